// moor kv get / put / rm / ls: the daemon's Consul-compatible KV store
// (/v1/kv on the daemon socket), printed the way `consul kv` prints it.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <iterator>

#include "cli/daemon_client.h"
#include "common/base64.h"
#include "common/strings.h"

namespace moor::cli {

using nlohmann::json;

namespace {

// A key in a /v1/kv path: its '/' stay path separators, the rest is escaped.
std::string KvPath(const std::string& key) { return "/v1/kv/" + api::PercentEncode(key); }

// A value as /v1/kv returns it (base64); "" when it is not valid base64.
std::string Base64Decode(const std::string& s) {
  std::string out;
  return moor::Base64Decode(s, &out) ? out : "";
}

// The entry's value: JSON null (an empty value) prints as nothing.
std::string Value(const json& e) {
  return e.contains("Value") && e["Value"].is_string() ? Base64Decode(e["Value"].get<std::string>()) : "";
}

std::string Detailed(const json& e) {
  auto num = [&](const char* k) { return std::to_string(e.value(k, uint64_t{0})); };
  std::string out;
  auto line = [&](const std::string& k, const std::string& v) {
    out += k + std::string(16 - k.size(), ' ') + v + "\n";
  };
  line("CreateIndex", num("CreateIndex"));
  line("Flags", num("Flags"));
  line("Key", e.value("Key", ""));
  line("LockIndex", num("LockIndex"));
  line("ModifyIndex", num("ModifyIndex"));
  line("Session", "-");
  line("Value", Value(e));
  return out;
}

// GET that treats 404 (no such key) as an empty result instead of an error.
Result<std::optional<api::Response>> GetKv(Daemon& d, const std::string& target) {
  auto r = TRY(d.http().Do("GET", target));
  if (r.status == 404) return std::optional<api::Response>();
  if (r.status >= 300) return Fail(ResponseError(r));
  return std::optional<api::Response>(std::move(r));
}

Result<uint64_t> UintFlag(const ParsedArgs& a, const std::string& name, const std::string& cmd) {
  auto v = ParseUint(a.Get(name));
  if (!v) return FailInvalid(cmd + ": --" + name + " \"" + a.Get(name) + "\": want a non-negative integer");
  return *v;
}

}  // namespace

Result<int> CmdKvGet(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"recurse", "r", false, false}, {"detailed", "d", false, false}}));
  bool recurse = a.Bool("recurse");
  if (a.positional.size() != 1 && !(recurse && a.positional.empty()))
    return FailInvalid("kv get: usage: moor kv get KEY [--recurse] [--detailed]");
  std::string key = a.positional.empty() ? "" : a.positional[0];
  auto d = TRY(Daemon::Connect(g));
  if (!recurse && !a.Bool("detailed")) {
    auto r = TRY(GetKv(d, KvPath(key) + "?raw"));
    if (!r) return FailInvalid("kv get: no key \"" + key + "\"");
    Out(r->body + "\n");
    return 0;
  }
  auto r = TRY(GetKv(d, KvPath(key) + (recurse ? "?recurse" : "")));
  if (!r) {
    if (recurse) return 0;  // nothing under the prefix
    return FailInvalid("kv get: no key \"" + key + "\"");
  }
  json entries = TRY(ParseJson(r->body, "GET " + KvPath(key)));
  std::string out;
  for (const auto& e : entries) {
    if (a.Bool("detailed")) {
      if (!out.empty()) out += "\n";
      out += Detailed(e);
    } else {
      out += e.value("Key", "") + ":" + Value(e) + "\n";
    }
  }
  Out(out);
  return 0;
}

Result<int> CmdKvPut(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"cas", "", true, false}, {"flags", "", true, false}}));
  if (a.positional.empty() || a.positional.size() > 2)
    return FailInvalid("kv put: usage: moor kv put KEY [VALUE|-] [--cas N] [--flags N]");
  const std::string& key = a.positional[0];
  std::string value = a.positional.size() == 2 ? a.positional[1] : "";
  if (value == "-") {  // as consul kv put: "-" reads the value from stdin
    value.clear();
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return FailErrno("kv put: read the value from stdin");
      if (n == 0) break;
      value.append(buf, static_cast<size_t>(n));
    }
  }
  std::string query;
  if (a.Has("cas")) query += "&cas=" + std::to_string(TRY(UintFlag(a, "cas", "kv put")));
  if (a.Has("flags")) query += "&flags=" + std::to_string(TRY(UintFlag(a, "flags", "kv put")));
  if (!query.empty()) query[0] = '?';
  auto d = TRY(Daemon::Connect(g));
  auto r = TRY(d.Call("PUT", KvPath(key) + query, value));
  if (Trim(r.body) != "true") {
    return FailInvalid("kv put: \"" + key + "\" was not written: it changed since index " + a.Get("cas") +
                       " (read it again with `moor kv get --detailed`)");
  }
  Out("Success! Data written to: " + key + "\n");
  return 0;
}

Result<int> CmdKvRm(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"recurse", "r", false, false}, {"cas", "", true, false}}));
  bool recurse = a.Bool("recurse");
  if (a.positional.size() != 1 && !(recurse && a.positional.empty()))
    return FailInvalid("kv rm: usage: moor kv rm KEY [--recurse]");
  std::string key = a.positional.empty() ? "" : a.positional[0];
  std::string query = recurse ? "?recurse" : "";
  if (a.Has("cas")) query += (query.empty() ? "?cas=" : "&cas=") + std::to_string(TRY(UintFlag(a, "cas", "kv rm")));
  auto d = TRY(Daemon::Connect(g));
  auto r = TRY(d.Call("DELETE", KvPath(key) + query));
  if (Trim(r.body) != "true") {
    return FailInvalid("kv rm: \"" + key + "\" was not deleted: it changed since index " + a.Get("cas"));
  }
  Out(std::string(recurse ? "Success! Deleted keys with prefix: " : "Success! Deleted key: ") + key + "\n");
  return 0;
}

Result<int> CmdKvLs(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {}));
  if (a.positional.size() > 1) return FailInvalid("kv ls: usage: moor kv ls [PREFIX]");
  std::string prefix = a.positional.empty() ? "" : a.positional[0];
  auto d = TRY(Daemon::Connect(g));
  auto r = TRY(GetKv(d, KvPath(prefix) + "?keys&separator=/"));
  if (!r) return 0;
  json keys = TRY(ParseJson(r->body, "GET " + KvPath(prefix)));
  std::string out;
  for (const auto& k : keys) {
    if (k.is_string()) out += k.get<std::string>() + "\n";
  }
  Out(out);
  return 0;
}

}  // namespace moor::cli
