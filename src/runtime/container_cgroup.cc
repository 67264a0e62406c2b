// TEMPORARY (replaced when cgroups/ lands): no cgroup.
#include "runtime/container_cgroup.h"

namespace moor::runtime {
namespace {
class NoCgroup : public ContainerCgroup {
 public:
  explicit NoCgroup(std::string p) : path_(std::move(p)) {}
  const std::string& path() const override { return path_; }
  Result<void> Create(const oci::Resources*) override { return {}; }
  Result<void> Update(const oci::Resources&) override { return {}; }
  Result<void> AddProcess(pid_t) override { return {}; }
  Result<void> Freeze() override { return {}; }
  Result<void> Thaw() override { return {}; }
  Result<bool> Frozen() override { return false; }
  Result<std::vector<pid_t>> Pids() override { return std::vector<pid_t>{}; }
  Result<void> KillAll(int) override { return {}; }
  Result<CgroupStats> Stats() override { return CgroupStats{}; }
  Result<void> Destroy() override { return {}; }
  std::vector<CgroupView> Views() const override { return {}; }
  bool SupportsDeviceRules() const override { return true; }
 private:
  std::string path_;
};
}  // namespace
Result<std::unique_ptr<ContainerCgroup>> ContainerCgroup::Open(const std::string& p, const std::string& id, bool) {
  return std::unique_ptr<ContainerCgroup>(new NoCgroup(p.empty() ? "/moor/" + id : p));
}
}  // namespace moor::runtime
