// Dockerfile-style changes applied to an imported image's config
// (`moor image import -c 'CMD ["sh"]'`), as `docker import --change` does.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "image/core/manifest.h"

namespace moor::image::transfer {

// Splits on blanks; "…" and '…' group words (quotes removed), backslash
// escapes the next character outside single quotes.
Result<std::vector<std::string>> SplitWords(std::string_view s);

// One instruction: CMD, ENTRYPOINT (JSON array or shell form, which becomes
// ["/bin/sh", "-c", …]), ENV (K=V … or K V), WORKDIR, USER, EXPOSE, LABEL,
// VOLUME, STOPSIGNAL. Anything else is an error naming the instruction.
Result<void> ApplyChange(ContainerConfig& config, std::string_view change);

}  // namespace moor::image::transfer
