// Dockerfile word processing: quote removal, escapes and variable expansion
// as Docker's shell lexer applies them to ADD, COPY, ENV, EXPOSE, FROM,
// LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR and ARG defaults (RUN, CMD and
// ENTRYPOINT are left to the shell inside the container).
//
//   'single'          literal, no escapes, no expansion
//   "double"          $ expansion; the escape char only escapes " $ and itself
//   \x (escape char)  literal x outside quotes; a trailing escape is dropped
//   $VAR ${VAR}       value, empty when unset
//   ${VAR:-w} ${VAR-w}  w when VAR is unset or empty / unset
//   ${VAR:+w} ${VAR+w}  w when VAR is set and non-empty / set, else empty
//   ${VAR:?m} ${VAR?m}  error "VAR: m" when unset or empty / unset
//   $ before anything else is a literal '$'
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace moor::build {

using VarMap = std::map<std::string, std::string, std::less<>>;

class WordExpander {
 public:
  WordExpander(const VarMap& vars, char escape) : vars_(vars), escape_(escape) {}

  // The whole text as one word (spaces kept).
  Result<std::string> Word(std::string_view text);
  // Splits on unquoted whitespace (also inside unquoted expansions), as the
  // shell does; quoted empty strings stay as empty words.
  Result<std::vector<std::string>> Words(std::string_view text);

  // Names referenced so far (set or not): build args that matter for the cache.
  const std::set<std::string>& used() const { return used_; }

 private:
  const VarMap& vars_;
  char escape_;
  std::set<std::string> used_;
};

// Splits on whitespace keeping quotes and escapes in the words (Docker's
// parseWords for ENV, LABEL and ARG "k=v" lists); an unterminated quote runs to
// the end of the text.
std::vector<std::string> SplitKeepingQuotes(std::string_view text, char escape);

}  // namespace moor::build
