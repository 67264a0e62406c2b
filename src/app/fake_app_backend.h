// Tests only: an in-memory AppBackend (containers, networks, volumes, a fake
// clock, and per container a number of polls before its discovery check
// passes). Used by the app executor's and the deploy service's tests.
#pragma once

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "app/app_backend.h"

namespace moor::app {

// An in-memory daemon: containers, networks, volumes, a fake clock, and per
// container a number of polls before its discovery check passes.
class FakeBackend : public AppBackend {
 public:
  struct Ctr {
    ContainerStatus st;
    nlohmann::json body;
    std::map<std::string, std::string> files;
    int polls_to_pass = 0;  // Registration polls before passing; -1 never
    bool service = true;
  };
  std::map<std::string, Ctr> ctrs;  // by id
  std::set<std::string> networks, volumes, images = {"img:1"};
  std::vector<std::string> calls;  // "create NAME", "start NAME", "stop NAME", "remove NAME", …
  std::vector<size_t> stop_batches;  // sizes of StopAll calls
  int64_t now = 0;
  int next_id = 1;
  int default_polls = 0;
  std::string fail_start_of;   // container name whose start fails
  std::string exit_on_start;   // container name that exits at once (code 3)

  std::string NameOf(const std::string& id) { return ctrs.count(id) ? ctrs[id].st.name : id; }
  std::vector<std::string> Running() {
    std::vector<std::string> out;
    for (auto& [id, c] : ctrs) {
      if (c.st.state == "running") out.push_back(c.st.name);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  Result<std::vector<ContainerStatus>> ListContainers(const std::string& app) override {
    std::vector<ContainerStatus> out;
    for (auto& [id, c] : ctrs) {
      if (c.st.labels[kLabelApp] == app) out.push_back(c.st);
    }
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
    return out;
  }
  Result<ContainerStatus> Inspect(const std::string& id) override {
    if (!ctrs.count(id)) return Fail(Error(ENOENT, "no such container"));
    return ctrs[id].st;
  }
  Result<std::string> ImageId(const std::string& ref) override {
    return images.count(ref) ? "sha256:" + ref : std::string();
  }
  Result<std::string> Pull(const std::string& ref) override {
    calls.push_back("pull " + ref);
    if (ref.find("missing") != std::string::npos) return FailInvalid("pull " + ref + ": not found");
    images.insert(ref);
    return "sha256:" + ref;
  }
  Result<std::string> Build(const BuildSpec&, const std::string& tag) override {
    calls.push_back("build " + tag);
    images.insert(tag);
    return "sha256:" + tag;
  }
  Result<bool> EnsureNetwork(const NetworkSpec& n, const std::map<std::string, std::string>&) override {
    return networks.insert(n.name).second;
  }
  Result<bool> EnsureVolume(const VolumeSpec& v, const std::map<std::string, std::string>&) override {
    return volumes.insert(v.name).second;
  }
  Result<std::vector<std::string>> ListNetworks(const std::string&) override {
    return std::vector<std::string>(networks.begin(), networks.end());
  }
  Result<std::vector<std::string>> ListVolumes(const std::string&) override {
    return std::vector<std::string>(volumes.begin(), volumes.end());
  }
  Result<void> RemoveNetwork(const std::string& n) override {
    if (!networks.erase(n)) return Fail(Error(ENOENT, "no such network"));
    return {};
  }
  Result<void> RemoveVolume(const std::string& v) override {
    if (!volumes.erase(v)) return Fail(Error(ENOENT, "no such volume"));
    return {};
  }
  Result<std::string> Create(const std::string& name, const nlohmann::json& body) override {
    for (auto& [id, c] : ctrs) {
      if (c.st.name == name) return FailInvalid("name " + name + " is in use");
    }
    std::string id = "c" + std::to_string(next_id++);
    Ctr c;
    c.st.id = id;
    c.st.name = name;
    c.st.state = "created";
    for (auto& [k, v] : body["Labels"].items()) c.st.labels[k] = v.get<std::string>();
    c.body = body;
    c.polls_to_pass = default_polls;
    ctrs[id] = c;
    calls.push_back("create " + name);
    return id;
  }
  Result<void> PutFile(const std::string& id, const std::string& path, const std::string& content, int) override {
    ctrs[id].files[path] = content;
    return {};
  }
  Result<void> RenderTemplates(const std::string& id) override {
    calls.push_back("render " + NameOf(id));
    return {};
  }
  Result<void> Start(const std::string& id) override {
    calls.push_back("start " + NameOf(id));
    if (NameOf(id) == fail_start_of) return FailInvalid("start failed");
    if (NameOf(id) == exit_on_start) {
      ctrs[id].st.state = "exited";
      ctrs[id].st.exit_code = 3;
      return {};
    }
    ctrs[id].st.state = "running";
    return {};
  }
  Result<void> Stop(const std::string& id, int64_t) override {
    if (!ctrs.count(id)) return Fail(Error(ENOENT, "no such container"));
    calls.push_back("stop " + NameOf(id));
    ctrs[id].st.state = "exited";
    return {};
  }
  std::vector<Result<void>> StopAll(const std::vector<std::string>& ids, const std::vector<int64_t>& t) override {
    std::vector<Result<void>> out;
    stop_batches.push_back(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) out.push_back(Stop(ids[i], t[i]));
    return out;
  }
  Result<void> Remove(const std::string& id) override {
    if (!ctrs.count(id)) return Fail(Error(ENOENT, "no such container"));
    calls.push_back("remove " + NameOf(id));
    ctrs.erase(id);
    return {};
  }
  Result<RegistrationStatus> Registration(const std::string& id) override {
    RegistrationStatus r;
    auto& c = ctrs[id];
    if (!c.service) return r;
    r.instances = 1;
    if (c.polls_to_pass < 0) {
      r.detail = "connection refused";
      return r;
    }
    if (c.polls_to_pass > 0) {
      --c.polls_to_pass;
      r.detail = "pending";
      return r;
    }
    r.passing = 1;
    return r;
  }
  Result<void> Signal(const std::string& id, const std::string& signal) override {
    if (!ctrs.count(id)) return Fail(Error(ENOENT, "no such container"));
    calls.push_back("signal " + NameOf(id) + " " + signal);
    return {};
  }
  std::string LogTail(const std::string&, int) override { return "boom"; }
  int64_t NowNs() override { return now; }
  void SleepNs(int64_t ns) override { now += ns; }
};

}  // namespace moor::app
