// oci::Spec → config.json text, the inverse of oci::ParseSpec: absent fields
// (empty strings and vectors, nullopt) are left out, so parse → serialize →
// parse gives the same Spec.
#pragma once

#include <string>

#include "oci/spec.h"

namespace moor::oci {

std::string SpecToJson(const Spec& spec);

}  // namespace moor::oci
