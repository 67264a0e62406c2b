#include "net/nat.h"

#include <nftables/libnftables.h>

#include <memory>
#include <vector>

#include "common/file.h"
#include "common/strings.h"

namespace moor::net {

namespace {

constexpr const char* kForwardSysctl = "/proc/sys/net/ipv4/ip_forward";

struct CtxDeleter {
  void operator()(nft_ctx* c) const { nft_ctx_free(c); }
};

// The comment that marks the rule of one subnet, so it can be found again.
std::string RuleComment(const Subnet& subnet) {
  return "moor:" + subnet.ToString();
}

// A rule of table ip moor whose comment is `comment`: its handle and its text
// before the comment (to compare with the rule wanted).
struct FoundRule {
  std::string chain;
  std::string handle;
  std::string body;
};

Result<std::vector<FoundRule>> FindRules(const std::string& comment) {
  std::string tables = TRY(RunNft("list tables ip"));
  bool have_table = false;
  for (const std::string& line : Split(tables, '\n')) {
    if (Trim(line) == "table ip moor") have_table = true;
  }
  std::vector<FoundRule> found;
  if (!have_table) return found;
  std::string listing = TRY(RunNft("list table ip moor"));
  std::string marker = "comment \"" + comment + "\"";
  std::string chain;
  for (const std::string& line : Split(listing, '\n')) {
    std::string_view t = Trim(line);
    if (t.starts_with("chain ")) chain = std::string(Trim(t.substr(6, t.find('{') - 6)));
    size_t at = line.find(marker);
    size_t hash = line.rfind("# handle ");
    if (at == std::string::npos || hash == std::string::npos) continue;
    found.push_back({chain, std::string(Trim(std::string_view(line).substr(hash + 9))),
                     std::string(Trim(std::string_view(line).substr(0, at)))});
  }
  return found;
}

Result<void> DeleteRules(const std::vector<FoundRule>& rules) {
  for (const FoundRule& r : rules) TRY(RunNft("delete rule ip moor " + r.chain + " handle " + r.handle));
  return {};
}

}  // namespace

Result<std::string> RunNft(const std::string& commands) {
  std::unique_ptr<nft_ctx, CtxDeleter> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return Fail(Error(ENOMEM, "nftables: cannot create a context"));
  nft_ctx_output_set_flags(ctx.get(), NFT_CTX_OUTPUT_HANDLE);
  if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0) {
    return Fail(Error(ENOMEM, "nftables: cannot buffer output"));
  }
  if (nft_run_cmd_from_buffer(ctx.get(), commands.c_str()) != 0) {
    // nft's error output is several lines (message, the command, a caret
    // line); the first line says what went wrong.
    const char* err = nft_ctx_get_error_buffer(ctx.get());
    std::string first = err ? std::string(Trim(Split(err, '\n').front())) : "";
    if (StartsWith(first, "Error: ")) first.erase(0, 7);
    if (first.empty()) first = "unknown error";
    return Fail(Error(
        EIO, "nftables: " + first + " (running: " + std::string(Trim(Split(commands, '\n').front())) + ")"));
  }
  const char* out = nft_ctx_get_output_buffer(ctx.get());
  return std::string(out ? out : "");
}

Result<void> EnsureMasquerade(const Subnet& subnet, const std::string& bridge) {
  auto ctx = "set up outbound NAT for " + subnet.ToString();
  if (bridge.empty() || bridge.find_first_of("\"\\\n") != std::string::npos) {
    return FailInvalid(ctx + ": invalid bridge name \"" + bridge + "\"");
  }
  std::string comment = RuleComment(subnet);
  std::string body = "ip saddr " + subnet.ToString() + " oifname != \"" + bridge + "\" masquerade";
  // "add" of an existing table or chain is a no-op, so this is idempotent.
  TRY_CTX(
      RunNft("add table ip moor\n"
             "add chain ip moor postrouting { type nat hook postrouting priority 100; policy accept; }\n"),
      ctx);
  std::vector<FoundRule> rules = TRY_CTX(FindRules(comment), ctx);
  if (rules.size() == 1 && rules[0].body == body) return {};
  // A stale rule for this subnet (another bridge) or duplicates: replace.
  TRY_CTX(DeleteRules(rules), ctx);
  TRY_CTX(RunNft("add rule ip moor postrouting " + body + " comment \"" + comment + "\""), ctx);
  return {};
}

Result<void> RemoveMasquerade(const Subnet& subnet) {
  auto ctx = "remove outbound NAT for " + subnet.ToString();
  std::vector<FoundRule> rules = TRY_CTX(FindRules(RuleComment(subnet)), ctx);
  TRY_CTX(DeleteRules(rules), ctx);
  return {};
}

Result<void> EnsureIsolation(const std::string& bridge) {
  auto ctx = "isolate network bridge " + bridge;
  if (bridge.empty() || bridge.find_first_of("\"\\\n*") != std::string::npos) {
    return FailInvalid(ctx + ": invalid bridge name \"" + bridge + "\"");
  }
  std::string comment = "moor-isolate:" + bridge;
  std::string body = "iifname \"" + bridge + "\" oifname \"" + std::string(kBridgePattern) + "\" oifname != \"" +
                     bridge + "\" drop";
  TRY_CTX(RunNft("add table ip moor\n"
                 "add chain ip moor forward { type filter hook forward priority 0; policy accept; }\n"),
          ctx);
  std::vector<FoundRule> rules = TRY_CTX(FindRules(comment), ctx);
  if (rules.size() == 1) return {};
  TRY_CTX(DeleteRules(rules), ctx);
  TRY_CTX(RunNft("add rule ip moor forward " + body + " comment \"" + comment + "\""), ctx);
  return {};
}

Result<void> RemoveIsolation(const std::string& bridge) {
  auto ctx = "remove isolation of bridge " + bridge;
  std::vector<FoundRule> rules = TRY_CTX(FindRules("moor-isolate:" + bridge), ctx);
  TRY_CTX(DeleteRules(rules), ctx);
  return {};
}

Result<void> EnableIpForward() {
  // Read first: where /proc/sys is read-only but forwarding is already on
  // (a container running moor), there is nothing to do.
  auto current = ReadFile(kForwardSysctl);
  if (current && Trim(*current) == "1") return {};
  TRY_CTX(WriteExisting(kForwardSysctl, "1"), "enable IPv4 forwarding (net.ipv4.ip_forward)");
  return {};
}

}  // namespace moor::net
