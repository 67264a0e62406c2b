// Column-aligned tables and the human units `docker images` prints.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace moor::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // Columns separated by at least three spaces; no trailing spaces.
  std::string Render() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// 1000-based units like Docker: "4.26MB", "512B".
std::string HumanSize(int64_t bytes);
// 1024-based units as docker stats shows memory: "12.5MiB".
std::string BinarySize(double bytes);
// "3 minutes ago" from an RFC 3339 timestamp ("N/A" when unparsable).
std::string Ago(const std::string& rfc3339);

}  // namespace moor::cli
