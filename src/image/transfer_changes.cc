#include "image/transfer_changes.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "image/core/config_edit.h"

namespace moor::image::transfer {
namespace {

std::string Upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// JSON form (["a","b"]) when it parses as an array of strings; nullopt for
// shell form.
std::optional<std::vector<std::string>> JsonArray(std::string_view s) {
  if (!s.starts_with('[')) return std::nullopt;
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (j.is_discarded() || !j.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (auto& v : j) {
    if (!v.is_string()) return std::nullopt;
    out.push_back(v.get<std::string>());
  }
  return out;
}

std::vector<std::string> CommandForm(std::string_view rest) {
  if (auto arr = JsonArray(rest)) return *arr;
  return {"/bin/sh", "-c", std::string(rest)};
}

// "K=V K2=V2" (quotes allowed) or the legacy "K V…" form.
Result<std::vector<std::pair<std::string, std::string>>> KeyValues(std::string_view what,
                                                                   std::string_view rest) {
  std::vector<std::pair<std::string, std::string>> out;
  auto words = TRY(SplitWords(rest));
  if (words.empty()) return FailInvalid(std::string(what) + " needs at least one KEY=VALUE");
  if (words[0].find('=') == std::string::npos) {
    // Legacy form: the first word is the key, everything after it the value.
    std::string_view r = Trim(rest);
    auto sp = r.find_first_of(" \t");
    if (sp == std::string_view::npos) {
      return FailInvalid(std::string(what) + " " + words[0] + " has no value");
    }
    out.emplace_back(std::string(r.substr(0, sp)), std::string(Trim(r.substr(sp))));
    return out;
  }
  for (auto& w : words) {
    auto eq = w.find('=');
    if (eq == std::string::npos || eq == 0) {
      return FailInvalid(std::string(what) + ": \"" + w + "\" is not KEY=VALUE");
    }
    out.emplace_back(w.substr(0, eq), w.substr(eq + 1));
  }
  return out;
}

Result<void> AddPort(ContainerConfig& config, const std::string& spec) {
  std::string port = spec, proto = "tcp";
  if (auto slash = spec.find('/'); slash != std::string::npos) {
    port = spec.substr(0, slash);
    proto = spec.substr(slash + 1);
    for (auto& c : proto) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (proto != "tcp" && proto != "udp" && proto != "sctp") {
    return FailInvalid("EXPOSE " + spec + ": protocol must be tcp, udp or sctp");
  }
  uint64_t lo = 0, hi = 0;
  if (auto dash = port.find('-'); dash != std::string::npos) {
    auto a = ParseUint(port.substr(0, dash)), b = ParseUint(port.substr(dash + 1));
    if (!a || !b) return FailInvalid("EXPOSE " + spec + ": not a port or port range");
    lo = *a;
    hi = *b;
  } else {
    auto a = ParseUint(port);
    if (!a) return FailInvalid("EXPOSE " + spec + ": not a port or port range");
    lo = hi = *a;
  }
  if (lo == 0 || hi > 65535 || lo > hi) return FailInvalid("EXPOSE " + spec + ": ports are 1-65535");
  for (uint64_t p = lo; p <= hi; ++p) InsertSorted(config.exposed_ports, std::to_string(p) + "/" + proto);
  return {};
}

}  // namespace

Result<std::vector<std::string>> SplitWords(std::string_view s) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < s.size()) {
        cur += s[++i];
      } else {
        cur += c;
      }
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '\\' && i + 1 < s.size()) {
      cur += s[++i];
    } else {
      cur += c;
    }
  }
  if (quote) return FailInvalid("unterminated quote in: " + std::string(s));
  if (in_word) words.push_back(std::move(cur));
  return words;
}

Result<void> ApplyChange(ContainerConfig& config, std::string_view change) {
  std::string_view line = Trim(change);
  auto sp = line.find_first_of(" \t");
  std::string instr = Upper(line.substr(0, sp));
  std::string_view rest = sp == std::string_view::npos ? std::string_view() : Trim(line.substr(sp));
  std::string ctx = "change \"" + std::string(line) + "\"";
  if (instr.empty()) return FailInvalid("empty change");
  if (rest.empty()) return FailInvalid(ctx + ": " + instr + " needs an argument");

  if (instr == "CMD") {
    config.cmd = CommandForm(rest);
  } else if (instr == "ENTRYPOINT") {
    config.entrypoint = CommandForm(rest);
  } else if (instr == "ENV") {
    for (auto& [k, v] : TRY_CTX(KeyValues("ENV", rest), ctx)) SetEnvVar(config.env, k, v);
  } else if (instr == "LABEL") {
    for (auto& [k, v] : TRY_CTX(KeyValues("LABEL", rest), ctx)) config.labels[k] = v;
  } else if (instr == "WORKDIR") {
    std::string dir(rest);
    if (!dir.starts_with('/')) {
      std::string base = config.working_dir.empty() ? "/" : config.working_dir;
      dir = base + (base.ends_with('/') ? "" : "/") + dir;
    }
    config.working_dir = dir;
  } else if (instr == "USER") {
    config.user = std::string(rest);
  } else if (instr == "EXPOSE") {
    for (auto& p : TRY_CTX(SplitWords(rest), ctx)) TRY_CTX(AddPort(config, p), ctx);
  } else if (instr == "VOLUME") {
    auto vols = JsonArray(rest);
    std::vector<std::string> list = vols ? *vols : TRY_CTX(SplitWords(rest), ctx);
    for (auto& v : list) {
      if (v.empty()) return FailInvalid(ctx + ": empty volume path");
      InsertSorted(config.volumes, v);
    }
  } else if (instr == "STOPSIGNAL") {
    config.stop_signal = std::string(rest);
  } else {
    return FailInvalid(ctx + ": " + instr +
                       " cannot be applied on import (use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, "
                       "STOPSIGNAL, USER, VOLUME or WORKDIR)");
  }
  return {};
}

}  // namespace moor::image::transfer
