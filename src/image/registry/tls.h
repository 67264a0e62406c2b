// Per-registry TLS material, as Docker's certs.d layout has it:
//   <cert_dir>/<host[:port]>/*.crt            extra CA certificates
//   <cert_dir>/<host[:port]>/<name>.cert+.key client certificate and key
// The extra CAs are added to (not replacing) the system bundle.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"

namespace moor::image::registry {

inline constexpr const char* kSystemCaBundle = "/etc/ssl/certs/ca-certificates.crt";

struct TlsConfig {
  std::string ca_pem;       // empty: libcurl's default CA store
  std::string client_cert;  // PEM file paths; empty: none
  std::string client_key;
  bool verify = true;  // false only for --insecure-registry hosts
};

// Looks in every cert dir (first one with a directory for the host wins for
// client certs; CAs from all of them are combined). `system_bundle` is
// prepended when any extra CA is found.
Result<TlsConfig> LoadTlsConfig(const std::vector<std::string>& cert_dirs, const std::string& host,
                                const std::string& system_bundle = kSystemCaBundle);

}  // namespace moor::image::registry
