// OCI image-spec and Docker schema2 models: descriptors, manifests, indexes
// (manifest lists), image configs, platforms. Parsing is strict about what a
// consumer needs (types, digests, sizes, media types) and tolerant of unknown
// fields; every error names the JSON path ("manifest: layers[2].digest: …").
// Docker schema1 manifests are refused with a one-line explanation.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "image/core/digest.h"

namespace moor::image {

namespace media {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciLayerNondistGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayerForeignGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
inline constexpr std::string_view kDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
}  // namespace media

enum class Compression { kNone, kGzip, kZstd };
// From a layer media type (OCI and Docker, incl. non-distributable/foreign).
Result<Compression> LayerCompression(std::string_view media_type);
std::string_view CompressionName(Compression c);  // "none", "gzip", "zstd"

struct Platform {
  std::string os;            // "linux"
  std::string architecture;  // "amd64", "arm64", … (GOARCH names)
  std::string variant;       // "v8", "v7", … (optional)
  std::string os_version;    // optional
  bool operator==(const Platform&) const = default;
};
// "linux/arm64/v8", "linux/amd64": error on anything else.
Result<Platform> ParsePlatform(std::string_view s);
std::string PlatformString(const Platform& p);  // "linux/arm64/v8"
// This machine's platform (uname machine mapped to GOARCH names).
Platform HostPlatform();
// The mapping HostPlatform uses: "x86_64" → linux/amd64, "aarch64" → linux/arm64/v8,
// "armv7l" → linux/arm/v7, … (unknown machines keep their name as the architecture).
Platform PlatformForMachine(std::string_view uname_machine);

struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::vector<std::string> urls;
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;  // index entries only
  bool operator==(const Descriptor&) const = default;
};

struct Manifest {
  int schema_version = 2;
  std::string media_type;  // may be empty in OCI manifests
  Descriptor config;
  std::vector<Descriptor> layers;
  std::map<std::string, std::string> annotations;
  bool operator==(const Manifest&) const = default;
};

struct Index {
  int schema_version = 2;
  std::string media_type;
  std::vector<Descriptor> manifests;
  std::map<std::string, std::string> annotations;
  bool operator==(const Index&) const = default;
};

struct HealthConfig {
  std::vector<std::string> test;  // ["CMD", …] | ["CMD-SHELL", "…"] | ["NONE"]
  int64_t interval_ns = 0, timeout_ns = 0, start_period_ns = 0;
  int retries = 0;
  bool operator==(const HealthConfig&) const = default;
};

// The "config" object of an image config (what a container starts from).
struct ContainerConfig {
  std::string user;
  std::vector<std::string> exposed_ports;  // "80/tcp", sorted, unique
  std::vector<std::string> env;            // "K=V"
  std::optional<std::vector<std::string>> entrypoint;  // nullopt: not set
  std::optional<std::vector<std::string>> cmd;
  std::vector<std::string> volumes;  // sorted, unique
  std::string working_dir;
  std::map<std::string, std::string> labels;
  std::string stop_signal;
  std::optional<HealthConfig> healthcheck;
  std::vector<std::string> shell;  // Docker extension (SHELL instruction)
  std::vector<std::string> onbuild;
  bool operator==(const ContainerConfig&) const = default;
};

struct HistoryEntry {
  std::string created;  // RFC 3339
  std::string created_by;
  std::string author;
  std::string comment;
  bool empty_layer = false;
  bool operator==(const HistoryEntry&) const = default;
};

struct ImageConfig {
  std::string created;  // RFC 3339, may be empty
  std::string author;
  std::string architecture;
  std::string os;
  std::string variant;
  ContainerConfig config;
  std::vector<Digest> diff_ids;  // rootfs.diff_ids, rootfs.type must be "layers"
  std::vector<HistoryEntry> history;
  bool operator==(const ImageConfig&) const = default;
};

enum class ManifestKind { kManifest, kIndex };
// From the HTTP Content-Type when it is one of the known types, else from the
// document's "mediaType" field, else from its shape ("manifests" vs "layers").
// Schema1 → error "schema1 manifests are not supported: push the image again
// with a current Docker or moor".
Result<ManifestKind> DetectManifestKind(std::string_view content_type, std::string_view json);

Result<Manifest> ParseManifest(std::string_view json);
Result<Index> ParseIndex(std::string_view json);
Result<ImageConfig> ParseImageConfig(std::string_view json);

// Canonical JSON (sorted keys, no insignificant whitespace, Docker field names
// and omitempty behaviour) — what moor writes for the images it makes.
std::string SerializeManifest(const Manifest& m);
std::string SerializeIndex(const Index& i);
std::string SerializeImageConfig(const ImageConfig& c);

// Picks the manifest for `want` from an index: exact os/arch/variant match
// first, then a missing variant on either side (arm64 ≡ arm64/v8, arm ≡
// arm/v7 rules as Docker applies them); entries whose platform is
// "unknown/unknown" (attestations) are never chosen. Error lists the
// platforms the index has.
Result<Descriptor> SelectPlatform(const Index& index, const Platform& want);

// OCI chain IDs: ChainID(L0) = DiffID(L0); ChainID(L0..n) =
// sha256(ChainID(L0..n-1) + " " + DiffID(Ln)). Returns one per layer.
std::vector<Digest> ChainIds(std::span<const Digest> diff_ids);

}  // namespace moor::image
