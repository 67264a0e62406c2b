// oci::Spec → config.json text, the inverse of oci::ParseSpec: absent fields
// (empty strings and vectors, nullopt) are left out, so parse → serialize →
// parse gives the same Spec.
//
// NOTE for the lead: this belongs in src/oci (next to spec_parse.cc); it lives
// here because the image helpers may not edit other modules.
#pragma once

#include <string>

#include "oci/spec.h"

namespace moor::image {

std::string SpecToJson(const oci::Spec& spec);

}  // namespace moor::image
