// Templates in consul-template's syntax (a subset of Go's text/template), so
// files users already render with consul-template render under moor as is.
//
// SYNTAX
//   Text is copied; actions sit between "{{" and "}}".
//   "{{- " trims all whitespace (newlines included) before the action, " -}}"
//   all whitespace after it; the space next to the dash is required, as in Go.
//   {{/* comment */}}             no output (may carry trim markers: {{- /* x */ -}})
//   {{ pipeline }}                prints the value (nil prints "<no value>")
//   {{ if P }} … {{ else if Q }} … {{ else }} … {{ end }}
//   {{ range P }} … {{ else }} … {{ end }}   dot = each element; the else part
//                                 runs when P is empty or nil. Lists, maps (sorted
//                                 keys) and integers n (0..n-1, n ≤ 1000000) can be
//                                 ranged over.
//   {{ range $i, $e := P }}       $i = index (map: key), $e = element
//   {{ range $e := P }}           $e = element
//   {{ with P }} … {{ else }} … {{ end }}    dot = P when P is non-empty
//   {{ break }} {{ continue }}    inside range
//   {{ $x := P }} {{ $x = P }}    declare / assign; a variable lives until the
//                                 {{end}} of the block that declared it
// Dot starts as nil (consul-template passes no data); "$" is that same nil.
// Truth: false, 0, nil, "" and empty lists/maps are false; the rest is true.
// Pipelines: "cmd | cmd | …": each command's value becomes the LAST argument
//   of the next command, e.g. {{ .Tags | join "," }} == {{ join "," .Tags }}.
// Operands: .  .Field.Sub  $  $x  $x.Field  $.Field  "str" `raw`  123  -4
//   true false nil  (pipeline)  (pipeline).Field
// Field access on a map with a missing key yields nil; on anything else it is
//   a render error.
//
// FUNCTIONS
//   service "name" ["STATES"]     instances of a service, sorted by ID; "tag.name"
//       keeps instances carrying tag. STATES: "any" or a comma list of passing,
//       warning, critical; default "passing" (as consul-template). Each has
//       .ID .Name .Address (the node's address if the service has none) .Port
//       .Tags .ServiceMeta .Status ("passing"…) .Node .NodeAddress .Datacenter
//       .Checks (each .CheckID .Name .Status .Output)
//   services                      every service: .Name .Tags (sorted by name)
//   key "k"                       the value; a missing key is a render error
//   keyOrDefault "k" "default"    the value, or default when missing
//   ls "prefix"                   direct children of prefix/ (keys relative):
//                                 .Key .Value; sub-folders are left out
//   tree "prefix"                 every key below prefix/ (relative) .Key .Value
//   env "NAME"                    from the template's own environment map
//                                 (never the daemon's); "" when unset
//   len X                         bytes of a string, elements of a list/map
//   eq A B [C…]                   A == B || A == C …   ne lt le gt ge: ints or strings
//   and A B … / or A B …          first false / first true argument (short-circuit)
//   not A
//   contains NEEDLE HAYSTACK      haystack a list or string: {{ if .Tags | contains "x" }}
//   in HAYSTACK NEEDLE            {{ if in .Tags "x" }}
//   join SEP LIST                 {{ .Tags | join "," }}
//   split SEP STRING              list of strings
//   toLower S / toUpper S / trimSpace S
//   replaceAll OLD NEW S
//   printf FORMAT ARGS…           verbs %s %d %v %q %x %%, flags - 0 and a width
//   print ARGS…                   values concatenated
//   index X K [K…]                list element by int, map value by string
//                                 (a missing map key yields "")
// Not supported (parse errors): define/template/block, methods, floats,
//   datacenter suffixes ("name@dc").
//
// ERRORS
//   Parse and render errors read "NAME:LINE:COL: message" (1-based, column in
//   bytes), NAME being what Parse was given (the source path).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "discovery/types.h"

namespace moor::discovery {

class Catalog;

// What templates read. A role interface so the engine is tested without a
// catalog and could be fed by a remote Consul later.
class TemplateData {
 public:
  virtual ~TemplateData() = default;
  // Instances of `name` (carrying `tag` unless empty) whose health is one
  // of `states`, sorted by id.
  virtual std::vector<InstanceHealth> Service(const std::string& name, const std::string& tag,
                                              const std::vector<Health>& states) = 0;
  // Service name → union of its tags.
  virtual std::map<std::string, std::vector<std::string>> Services() = 0;
  virtual std::optional<KvEntry> Key(const std::string& key) = 0;
  // Every entry whose key starts with `prefix`, sorted by key.
  virtual std::vector<KvEntry> List(const std::string& prefix) = 0;
  virtual Node LocalNode() = 0;
};

// TemplateData read from a Catalog (which must outlive it).
class CatalogTemplateData : public TemplateData {
 public:
  explicit CatalogTemplateData(const Catalog& catalog) : catalog_(catalog) {}
  std::vector<InstanceHealth> Service(const std::string& name, const std::string& tag,
                                      const std::vector<Health>& states) override;
  std::map<std::string, std::vector<std::string>> Services() override;
  std::optional<KvEntry> Key(const std::string& key) override;
  std::vector<KvEntry> List(const std::string& prefix) override;
  Node LocalNode() override;

 private:
  const Catalog& catalog_;
};

namespace tmpl {
struct Tree;
}

// A parsed template: immutable, cheap to copy, safe to render from several
// threads at once.
class Template {
 public:
  // EINVAL "NAME:LINE:COL: message" on a syntax error.
  static Result<Template> Parse(std::string name, std::string_view text);
  // EINVAL "NAME:LINE:COL: message" on a render error (a missing key, a
  // type mismatch, output above 16 MiB).
  Result<std::string> Render(TemplateData& data, const std::map<std::string, std::string>& env = {}) const;
  const std::string& name() const;

 private:
  explicit Template(std::shared_ptr<const tmpl::Tree> tree) : tree_(std::move(tree)) {}
  std::shared_ptr<const tmpl::Tree> tree_;
};

}  // namespace moor::discovery
