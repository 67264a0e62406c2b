#include "engine/network_manager.h"

#include <cerrno>
#include <random>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/log.h"
#include "engine/volume_manager.h"
#include "net/nat.h"
#include "net/netns.h"

namespace moor::engine {

using nlohmann::json;

namespace {

constexpr const char* kDefaultName = "bridge";

std::string RandomHex(size_t n) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static const char* hex = "0123456789abcdef";
  std::string s(n, '0');
  for (auto& c : s) c = hex[rng() & 15];
  return s;
}

}  // namespace

std::string NetworkToJson(const NetworkInfo& n) {
  json labels = json::object();
  for (const auto& [k, v] : n.labels) labels[k] = v;
  return json{{"Id", n.id},           {"Name", n.name},       {"Driver", n.driver},
              {"Subnet", n.subnet},   {"Gateway", n.gateway}, {"Bridge", n.bridge},
              {"Created", n.created}, {"Labels", labels},     {"Internal", n.internal}}
      .dump();
}

Result<NetworkInfo> NetworkFromJson(const std::string& text) {
  try {
    json j = json::parse(text);
    NetworkInfo n;
    n.id = j.at("Id");
    n.name = j.at("Name");
    n.driver = j.value("Driver", "bridge");
    n.subnet = j.at("Subnet");
    n.gateway = j.at("Gateway");
    n.bridge = j.at("Bridge");
    n.created = j.value("Created", "");
    n.labels = j.value("Labels", std::map<std::string, std::string>{});
    n.internal = j.value("Internal", false);
    return n;
  } catch (const json::exception& e) {
    return FailInvalid(std::string("network record is damaged: ") + e.what());
  }
}

NetworkManager::NetworkManager(const EngineConfig& cfg, store::StateStore& store, net::Netlink& netlink)
    : cfg_(cfg), store_(store), netlink_(netlink) {}

Result<void> NetworkManager::Init() {
  std::lock_guard lock(mu_);
  auto existing = TRY(store_.GetByName(store::Kind::kNetwork, kDefaultName));
  auto subnet = TRY_CTX(net::ParseSubnet(cfg_.default_subnet), "default network subnet");
  if (existing) {
    auto n = TRY(NetworkFromJson(existing->json));
    if (n.subnet != subnet.ToString()) {
      log::Warn("default network keeps its subnet " + n.subnet + " (configured: " + subnet.ToString() +
                "); remove every container to change it");
    }
    return {};
  }
  NetworkInfo n;
  n.id = RandomHex(64);
  n.name = kDefaultName;
  n.subnet = subnet.ToString();
  n.gateway = net::FormatIpv4(subnet.Gateway());
  n.bridge = cfg_.bridge;
  n.created = NowRfc3339();
  return store_.Insert(store::Kind::kNetwork, {n.id, n.name, NetworkToJson(n)});
}

Result<NetworkInfo> NetworkManager::GetLocked(const std::string& key) {
  auto o = TRY(store_.GetByName(store::Kind::kNetwork, key));
  if (!o) o = TRY(store_.Get(store::Kind::kNetwork, key));
  if (!o && key.size() >= 4) {
    for (auto& cand : TRY(store_.List(store::Kind::kNetwork))) {
      if (cand.id.rfind(key, 0) == 0) {
        o = cand;
        break;
      }
    }
  }
  if (!o) return Fail(Error(ENOENT, "no such network: " + key + " (see `moor network ls`)"));
  return NetworkFromJson(o->json);
}

Result<NetworkInfo> NetworkManager::Get(const std::string& key) {
  std::lock_guard lock(mu_);
  return GetLocked(key);
}

Result<std::vector<NetworkInfo>> NetworkManager::List() {
  std::lock_guard lock(mu_);
  std::vector<NetworkInfo> out;
  for (auto& o : TRY(store_.List(store::Kind::kNetwork))) out.push_back(TRY(NetworkFromJson(o.json)));
  return out;
}

Result<NetworkInfo> NetworkManager::Create(const std::string& name, const std::string& subnet_text,
                                           const std::string& gateway_text,
                                           const std::map<std::string, std::string>& labels, bool internal) {
  std::lock_guard lock(mu_);
  if (!ValidObjectName(name)) {
    return FailInvalid("invalid network name \"" + name + "\": use letters, digits, '_', '.' and '-'");
  }
  if (TRY(store_.GetByName(store::Kind::kNetwork, name))) {
    return Fail(Error(EEXIST, "network name \"" + name + "\" is already in use"));
  }
  std::vector<net::Subnet> taken;
  for (auto& o : TRY(store_.List(store::Kind::kNetwork))) {
    auto n = TRY(NetworkFromJson(o.json));
    taken.push_back(TRY(net::ParseSubnet(n.subnet)));
  }
  net::Subnet subnet;
  if (!subnet_text.empty()) {
    subnet = TRY_CTX(net::ParseSubnet(subnet_text), "network " + name);
    for (const auto& t : taken) {
      if (net::Overlaps(subnet, t)) {
        return Fail(Error(EEXIST, "subnet " + subnet.ToString() + " overlaps network subnet " + t.ToString() +
                                      ": choose another --subnet"));
      }
    }
  } else {
    bool found = false;
    for (uint32_t i = 0; i < 256 && !found; ++i) {
      subnet = TRY(net::ParseSubnet("10.90." + std::to_string(i) + ".0/24"));
      found = true;
      for (const auto& t : taken) found = found && !net::Overlaps(subnet, t);
    }
    if (!found) return FailInvalid("no free subnet left in 10.90.0.0/16: give one with --subnet");
  }
  NetworkInfo n;
  n.id = RandomHex(64);
  n.name = name;
  n.subnet = subnet.ToString();
  if (!gateway_text.empty()) {
    uint32_t gw = TRY_CTX(net::ParseIpv4(gateway_text), "--gateway");
    if (!subnet.Contains(gw)) return FailInvalid("gateway " + gateway_text + " is outside " + n.subnet);
    if (gw != subnet.Gateway()) {
      return FailInvalid("gateway must be the subnet's first address " + net::FormatIpv4(subnet.Gateway()));
    }
  }
  n.gateway = net::FormatIpv4(subnet.Gateway());
  n.bridge = "moor-" + n.id.substr(0, 10);
  n.created = NowRfc3339();
  n.labels = labels;
  n.internal = internal;
  TRY(store_.Insert(store::Kind::kNetwork, {n.id, n.name, NetworkToJson(n)}));
  return n;
}

Result<void> NetworkManager::Remove(const std::string& key, bool in_use) {
  std::lock_guard lock(mu_);
  auto n = TRY(GetLocked(key));
  if (n.name == kDefaultName) return Fail(Error(EPERM, "the default network \"bridge\" cannot be removed"));
  if (in_use) {
    return Fail(Error(EBUSY, "network " + n.name + " is in use by containers: remove or disconnect them first"));
  }
  TRY(netlink_.DeleteLink(n.bridge));
  if (auto r = net::RemoveIsolation(n.bridge); !r) log::Warn("network " + n.name + ": " + r.error().message());
  if (!n.internal && cfg_.masquerade) {
    if (auto r = net::RemoveMasquerade(TRY(net::ParseSubnet(n.subnet))); !r) {
      log::Warn("network " + n.name + ": " + r.error().message());
    }
  }
  return store_.Remove(store::Kind::kNetwork, n.id);
}

Result<Endpoint> NetworkManager::Allocate(const std::string& network, const std::string& container_id,
                                          const std::string& requested_ip) {
  NetworkInfo n;
  {
    std::lock_guard lock(mu_);
    n = TRY(GetLocked(network));
  }
  auto subnet = TRY(net::ParseSubnet(n.subnet));
  Endpoint ep;
  ep.network = n.name;
  ep.network_id = n.id;
  ep.gateway = n.gateway;
  ep.prefix = subnet.prefix;
  if (!requested_ip.empty()) {
    uint32_t a = TRY_CTX(net::ParseIpv4(requested_ip), "--ip");
    if (!subnet.Contains(a) || a < subnet.FirstHost() || a > subnet.LastHost()) {
      return FailInvalid("--ip " + requested_ip + " is not a usable address of network " + n.name + " (" +
                         n.subnet + ")");
    }
    auto r = store_.LeaseExact(n.id, requested_ip, container_id);
    if (!r) {
      if (r.error().errnum() == EEXIST) {
        return Fail(Error(EEXIST, "address " + requested_ip + " is already in use in network " + n.name));
      }
      return Fail(r.error());
    }
    ep.ip = requested_ip;
  } else {
    ep.ip = TRY_CTX(store_.Lease(n.id, subnet.FirstHost(), subnet.LastHost(), container_id),
                    "network " + n.name);
  }
  // A stable locally administered MAC derived from the address, as Docker does.
  uint32_t a = TRY(net::ParseIpv4(ep.ip));
  char mac[32];
  snprintf(mac, sizeof mac, "02:42:%02x:%02x:%02x:%02x", (a >> 24) & 255, (a >> 16) & 255, (a >> 8) & 255,
           a & 255);
  ep.mac = mac;
  return ep;
}

Result<void> NetworkManager::ReleaseAll(const std::string& container_id) {
  return store_.ReleaseOwner(container_id);
}

Result<void> NetworkManager::EnsureBridgeLocked(const NetworkInfo& n) {
  auto subnet = TRY(net::ParseSubnet(n.subnet));
  TRY_CTX(netlink_.EnsureBridge(n.bridge, subnet.Gateway(), subnet.prefix, cfg_.mtu), "bridge " + n.bridge);
  if (!n.internal && cfg_.masquerade) {
    TRY(net::EnableIpForward());
    TRY(net::EnsureMasquerade(subnet, n.bridge));
  }
  TRY(net::EnsureIsolation(n.bridge));
  return {};
}

Result<void> NetworkManager::EnsureBridge(const std::string& name_or_id) {
  std::lock_guard lock(mu_);
  auto n = TRY(GetLocked(name_or_id));
  return EnsureBridgeLocked(n);
}

Result<std::string> NetworkManager::Plumb(const std::string& container_id, const Endpoint& ep) {
  NetworkInfo n;
  {
    std::lock_guard lock(mu_);
    n = TRY(GetLocked(ep.network_id.empty() ? ep.network : ep.network_id));
    TRY(EnsureBridgeLocked(n));
  }
  std::string path = TRY(net::CreatePinnedNetns(cfg_.NetnsDir(), container_id));
  auto fd = net::OpenNetns(path);
  if (!fd) {
    (void)net::RemovePinnedNetns(path);
    return Fail(fd.error());
  }
  uint32_t addr = TRY(net::ParseIpv4(ep.ip));
  uint32_t gw = TRY(net::ParseIpv4(ep.gateway));
  auto r = netlink_.CreateVethInNetns(VethName(container_id), "mp" + container_id.substr(0, 11), n.bridge,
                                      fd->get(), "eth0", addr, ep.prefix, gw, cfg_.mtu);
  if (!r) {
    (void)net::RemovePinnedNetns(path);
    return Fail(std::move(r.error()).Wrap("connect to network " + n.name));
  }
  return path;
}

Result<void> NetworkManager::Unplumb(const std::string& container_id, const std::string& netns_path) {
  auto r1 = netlink_.DeleteLink(VethName(container_id));
  Result<void> r2 = {};
  if (!netns_path.empty()) r2 = net::RemovePinnedNetns(netns_path);
  if (!r1) return r1;
  return r2;
}

}  // namespace moor::engine
