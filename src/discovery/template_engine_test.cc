#include "discovery/template_engine.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace moor::discovery {
namespace {

class FakeData : public TemplateData {
 public:
  void AddInstance(std::string id, std::string name, std::string addr, int port, Health h,
                   std::vector<std::string> tags = {}, std::map<std::string, std::string> meta = {}) {
    InstanceHealth ih;
    ih.service.id = std::move(id);
    ih.service.name = std::move(name);
    ih.service.address = std::move(addr);
    ih.service.port = port;
    ih.service.tags = std::move(tags);
    ih.service.meta = std::move(meta);
    ih.health = h;
    instances.push_back(std::move(ih));
  }
  std::vector<InstanceHealth> Service(const std::string& name, const std::string& tag,
                                      const std::vector<Health>& states) override {
    std::vector<InstanceHealth> out;
    for (const auto& i : instances) {
      if (i.service.name != name) continue;
      if (!tag.empty() && std::find(i.service.tags.begin(), i.service.tags.end(), tag) == i.service.tags.end()) continue;
      if (std::find(states.begin(), states.end(), i.health) == states.end()) continue;
      out.push_back(i);
    }
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.service.id < b.service.id; });
    return out;
  }
  std::map<std::string, std::vector<std::string>> Services() override {
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& i : instances) {
      auto& tags = out[i.service.name];
      for (const auto& t : i.service.tags)
        if (std::find(tags.begin(), tags.end(), t) == tags.end()) tags.push_back(t);
      std::sort(tags.begin(), tags.end());
    }
    return out;
  }
  std::optional<KvEntry> Key(const std::string& key) override {
    auto it = kv.find(key);
    if (it == kv.end()) return std::nullopt;
    return Entry(key, it->second);
  }
  std::vector<KvEntry> List(const std::string& prefix) override {
    std::vector<KvEntry> out;
    for (const auto& [k, v] : kv)
      if (k.starts_with(prefix)) out.push_back(Entry(k, v));
    return out;
  }
  Node LocalNode() override {
    Node n;
    n.id = "n-1";
    n.name = "host1";
    n.address = "10.89.0.1";
    return n;
  }

  static KvEntry Entry(const std::string& k, const std::string& v) {
    KvEntry e;
    e.key = k;
    e.value = v;
    return e;
  }

  std::vector<InstanceHealth> instances;
  std::map<std::string, std::string> kv;
};

std::string Render(std::string_view text, TemplateData& data, const std::map<std::string, std::string>& env = {}) {
  auto t = Template::Parse("t.tmpl", text);
  if (!t) return "PARSE: " + t.error().message();
  auto r = t->Render(data, env);
  if (!r) return "RENDER: " + r.error().message();
  return *r;
}

std::string ParseError(std::string_view text) {
  auto t = Template::Parse("t.tmpl", text);
  return t ? "" : t.error().message();
}

TEST(TemplateEngine, NginxUpstream) {
  FakeData d;
  const char* tpl =
      "upstream php { {{range service \"php\"}}server {{.Address}}:{{.Port}};{{else}}server 127.0.0.1:65535 down;{{end}} }";
  EXPECT_EQ(Render(tpl, d), "upstream php { server 127.0.0.1:65535 down; }");
  d.AddInstance("web2:9000", "php", "10.89.0.3", 9000, Health::kPassing);
  d.AddInstance("web1:9000", "php", "10.89.0.2", 9000, Health::kPassing);
  d.AddInstance("web3:9000", "php", "10.89.0.4", 9000, Health::kCritical);
  d.AddInstance("web4:9000", "php", "10.89.0.5", 9000, Health::kWarning);
  EXPECT_EQ(Render(tpl, d), "upstream php { server 10.89.0.2:9000;server 10.89.0.3:9000; }");
}

TEST(TemplateEngine, HealthFilterAndTags) {
  FakeData d;
  d.AddInstance("a", "php", "10.0.0.1", 1, Health::kPassing, {"prod", "v2"});
  d.AddInstance("b", "php", "10.0.0.2", 2, Health::kWarning, {"prod"});
  d.AddInstance("c", "php", "", 3, Health::kCritical, {"canary"});
  EXPECT_EQ(Render(R"({{range service "prod.php"}}{{.ID}} {{end}})", d), "a ");
  EXPECT_EQ(Render(R"({{range service "php" "passing,warning"}}{{.ID}} {{end}})", d), "a b ");
  EXPECT_EQ(Render(R"({{range service "php" "any"}}{{.ID}}={{.Status}} {{end}})", d),
            "a=passing b=warning c=critical ");
  // No service address: the node's, as consul-template does.
  EXPECT_EQ(Render(R"({{range service "canary.php" "any"}}{{.Address}} {{.Node}}{{end}})", d), "10.89.0.1 host1");
  EXPECT_EQ(Render(R"({{range services}}{{.Name}}:{{.Tags | join ","}};{{end}})", d), "php:canary,prod,v2;");
  EXPECT_EQ(Render(R"({{range service "php"}}{{if .Tags | contains "v2"}}v2{{end}}{{if in .Tags "x"}}x{{end}}{{end}})", d),
            "v2");
  EXPECT_NE(Render(R"({{service "php" "sometimes"}})", d).find("unknown health state"), std::string::npos);
}

TEST(TemplateEngine, FieldsMetaAndDollar) {
  FakeData d;
  d.AddInstance("a", "php", "10.0.0.1", 9000, Health::kPassing, {"x"}, {{"weight", "5"}});
  EXPECT_EQ(Render(R"({{range $i, $s := service "php"}}{{$i}} {{$s.ServiceMeta.weight}} {{.ServiceMeta.nope}} {{$.X}}{{end}})", d),
            "RENDER: t.tmpl:1:91: can't evaluate field X of a nil value");
  EXPECT_EQ(Render(R"({{range $i, $s := service "php"}}{{$i}} {{$s.ServiceMeta.weight}} {{index .ServiceMeta "weight"}}{{end}})", d),
            "0 5 5");
  EXPECT_EQ(Render(R"({{with $x := service "php"}}{{(index $x 0).Port}}{{end}})", d), "9000");
  EXPECT_EQ(Render(R"({{with service "nope"}}yes{{else}}none{{end}})", d), "none");
  EXPECT_EQ(Render(R"({{with service "nope"}}a{{else with service "php"}}{{len .}}{{end}})", d), "1");
  d.instances[0].service.meta["alpha"] = "1";
  EXPECT_EQ(Render(R"({{range $k, $v := (index (service "php") 0).ServiceMeta}}{{$k}}={{$v}},{{end}})", d),
            "alpha=1,weight=5,");
  EXPECT_EQ(Render(R"({{len services}} {{(index services 0).Name | toUpper}})", d), "1 PHP");
}

TEST(TemplateEngine, Kv) {
  FakeData d;
  d.kv = {{"app/a", "1"}, {"app/b", "2"}, {"app/sub/c", "3"}, {"app/dir/", ""}, {"other", "o"}};
  EXPECT_EQ(Render(R"({{key "app/a"}} {{key "/other"}} {{keyOrDefault "missing" "dflt"}})", d), "1 o dflt");
  EXPECT_EQ(Render(R"({{range ls "app"}}{{.Key}}={{.Value}};{{end}})", d), "a=1;b=2;");
  EXPECT_EQ(Render(R"({{range tree "app/"}}{{.Key}}={{.Value}};{{end}})", d), "a=1;b=2;sub/c=3;");
  EXPECT_EQ(Render("x\n  {{key \"nope\"}}", d),
            "RENDER: t.tmpl:2:5: error calling key: key \"nope\" does not exist (use keyOrDefault for optional keys)");
}

TEST(TemplateEngine, TrimMarkersAndComments) {
  FakeData d;
  d.AddInstance("a", "php", "10.0.0.1", 1, Health::kPassing);
  d.AddInstance("b", "php", "10.0.0.2", 2, Health::kPassing);
  std::string tpl =
      "upstream {\n"
      "  {{- range service \"php\" }}\n"
      "  server {{ .Address }}:{{ .Port }};\n"
      "  {{- end }}\n"
      "}\n"
      "{{/* a comment */}}x {{- /* trims both sides */ -}} y\n";
  EXPECT_EQ(Render(tpl, d), "upstream {\n  server 10.0.0.1:1;\n  server 10.0.0.2:2;\n}\nxy\n");
  // Without the space the dash belongs to a number, as in Go.
  EXPECT_EQ(Render("a {{-3}} b", d), "a -3 b");
}

TEST(TemplateEngine, ControlFlowAndVariables) {
  FakeData d;
  EXPECT_EQ(Render(R"({{$x := 3}}{{if lt $x 2}}a{{else if eq $x 3}}b{{else}}c{{end}})", d), "b");
  EXPECT_EQ(Render(R"({{$x := "s"}}{{if false}}{{else if false}}{{else}}{{$x}}{{end}})", d), "s");
  EXPECT_EQ(Render(R"({{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}})", d), "2");
  EXPECT_EQ(Render(R"({{range $i := 5}}{{if eq $i 1}}{{continue}}{{end}}{{if eq $i 3}}{{break}}{{end}}{{$i}}{{end}})", d),
            "02");
  EXPECT_EQ(Render(R"({{range $k, $v := split "," "b,a"}}{{$k}}{{$v}}{{end}})", d), "0b1a");
  EXPECT_EQ(Render(R"({{and 1 0 "x"}} {{or 0 "" "y"}} {{not 0}} {{and true (index (split "," "") 0)}})", d),
            "RENDER: t.tmpl:1:55: error calling index: index out of range: 0");
  EXPECT_EQ(Render(R"({{and 1 0 "x"}} {{or 0 "" "y"}} {{not 0}} {{and false (index (split "," "") 0)}})", d),
            "0 y true false");
}

TEST(TemplateEngine, StringFunctions) {
  FakeData d;
  EXPECT_EQ(Render(R"({{"AbC" | toLower}} {{toUpper "abc"}} {{len "abcd"}} {{printf "%s-%d-%v-%5s|%-3d|%03d%%" "a" 7 true "r" 4 5}})", d),
            "abc ABC 4 a-7-true-    r|4  |005%");
  EXPECT_EQ(Render(R"({{env "ROLE"}}:{{env "NOPE"}})", d, {{"ROLE", "web"}}), "web:");
  EXPECT_EQ(Render(R"({{replaceAll "." "-" "a.b.c"}} {{trimSpace "  x "}} {{print "a" 1 2 "b"}} {{printf "%q" "x"}})", d),
            "a-b-c x a1 2b \"x\"");
  EXPECT_EQ(Render(R"({{ne "a" "b"}} {{ge 2 2}} {{gt "b" "a"}} {{le 3 1}})", d), "true true true false");
  EXPECT_EQ(Render(R"({{eq 1 "1"}})", d), "RENDER: t.tmpl:1:3: error calling eq: incompatible types for comparison: int and string");
  EXPECT_EQ(Render(R"({{ `raw\n` }}{{ "q\t\"" }})", d), "raw\\nq\t\"");
}

TEST(TemplateEngine, ParseErrorsCarryLineAndColumn) {
  EXPECT_EQ(ParseError("a\n{{ foo }}"), "t.tmpl:2:4: function \"foo\" not defined");
  EXPECT_EQ(ParseError("a\n  {{ .X "), "t.tmpl:2:3: unclosed action");
  EXPECT_EQ(ParseError("{{if true}}\nx"), "t.tmpl:1:3: unexpected end of template: {{if}} without {{end}}");
  EXPECT_EQ(ParseError("x{{end}}"), "t.tmpl:1:4: unexpected {{end}}");
  EXPECT_EQ(ParseError("{{range $i, $e := 3}}{{end}}{{$e}}"), "t.tmpl:1:31: undefined variable \"$e\"");
  EXPECT_EQ(ParseError("{{/* open"), "t.tmpl:1:1: unclosed comment");
  EXPECT_EQ(ParseError("{{ 1.5 }}"), "t.tmpl:1:4: floating-point numbers are not supported");
  EXPECT_EQ(ParseError("{{ }}"), "t.tmpl:1:4: missing value for command");
  EXPECT_EQ(ParseError("{{break}}"), "t.tmpl:1:3: {{break}} outside {{range}}");
  EXPECT_EQ(ParseError("{{template \"x\"}}"), "t.tmpl:1:3: {{template}} is not supported");
  EXPECT_EQ(ParseError("{{if 1}}{{else}}{{else}}{{end}}"), "t.tmpl:1:19: {{else}} after {{else}} in {{if}}");
  EXPECT_EQ(ParseError("{{ \"abc }}"), "t.tmpl:1:4: unterminated quoted string");
  EXPECT_EQ(ParseError("{{ (len \"a\" }}"), "t.tmpl:1:13: unexpected token in pipeline");
}

TEST(TemplateEngine, RenderErrors) {
  FakeData d;
  EXPECT_EQ(Render("{{ \"a\" 1 }}", d), "RENDER: t.tmpl:1:4: can't give argument to non-function \"a\"");
  EXPECT_EQ(Render("{{ range \"abc\" }}{{end}}", d), "RENDER: t.tmpl:1:4: range can't iterate over string abc");
  EXPECT_EQ(Render("{{ join \",\" }}", d), "RENDER: t.tmpl:1:4: error calling join: wrong number of args: want 2 got 1");
  EXPECT_EQ(Render("{{ $x := services }}{{ $x.Foo }}", d), "RENDER: t.tmpl:1:24: can't evaluate field Foo in type list");
  EXPECT_EQ(Render("{{ . }}", d), "<no value>");
  EXPECT_EQ(Render("{{ range 2000000 }}{{ end }}", d), "RENDER: t.tmpl:1:4: range over 2000000: at most 1000000 iterations");
}

}  // namespace
}  // namespace moor::discovery
