#include "cli/format.h"

#include <gtest/gtest.h>

namespace moor::cli {
namespace {

using nlohmann::json;

std::string R(const std::string& f, const json& data) {
  auto t = Template::Parse(f);
  EXPECT_TRUE(t) << t.error().message();
  if (!t) return "";
  auto r = t->Render(data);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : "";
}

std::string RenderErr(const std::string& f, const json& data) {
  auto t = Template::Parse(f);
  if (!t) return t.error().message();
  auto r = t->Render(data);
  EXPECT_FALSE(r) << "rendered: " << *r;
  return r ? "" : r.error().message();
}

const json kInspect = json::parse(R"({"Id":"abc123","Name":"/web","State":{"Status":"running","Pid":42,
  "Running":true,"Health":null},"Config":{"Image":"busybox","Env":["A=1","B=2"],"Labels":{"com.x":"y"}},
  "Ratio":1.5,"Count":3.0})");

TEST(Format, Fields) {
  EXPECT_EQ(R("{{.Name}}", kInspect), "/web");
  EXPECT_EQ(R("id={{.Id}} pid={{.State.Pid}}", kInspect), "id=abc123 pid=42");
  EXPECT_EQ(R("{{.State.Status}}", kInspect), "running");
  EXPECT_EQ(R("{{.State.Running}}", kInspect), "true");
  EXPECT_EQ(R("{{ .Ratio }} {{.Count}}", kInspect), "1.5 3");
  EXPECT_EQ(R("{{.State.Health}}", kInspect), "<no value>");
  EXPECT_EQ(R("{{.Config.Env}}", kInspect), "[A=1 B=2]");
  EXPECT_EQ(R("{{.Config.Labels}}", kInspect), "map[com.x:y]");
  EXPECT_EQ(R("{{.}}", json("x")), "x");
  EXPECT_EQ(R("plain text", kInspect), "plain text");
}

TEST(Format, Functions) {
  EXPECT_EQ(R("{{json .Config.Labels}}", kInspect), R"({"com.x":"y"})");
  EXPECT_EQ(R("{{json .State.Status}}", kInspect), R"("running")");
  EXPECT_EQ(R("{{json .}}", json{{"a", 1}}), R"({"a":1})");
  EXPECT_EQ(R(R"({{index .Config.Labels "com.x"}})", kInspect), "y");
  EXPECT_EQ(R(R"({{index .Config.Labels "nope"}})", kInspect), "<no value>");
  EXPECT_EQ(R("{{index .Config.Env 1}}", kInspect), "B=2");
  EXPECT_EQ(R(R"({{join .Config.Env ","}})", kInspect), "A=1,B=2");
  EXPECT_EQ(R("{{upper .State.Status}}/{{lower .Name}}", kInspect), "RUNNING//web");
  EXPECT_EQ(R("{{len .Config.Env}}", kInspect), "2");
}

TEST(Format, EscapesBecomeTabsAndNewlines) {
  EXPECT_EQ(R(R"({{.Id}}\t{{.Name}}\n)", kInspect), "abc123\t/web\n");
}

TEST(Format, Errors) {
  EXPECT_EQ(RenderErr("{{.Nope}}", kInspect), "template: no field \"Nope\" in {{.Nope}}");
  EXPECT_NE(RenderErr("{{.State.Status.X}}", kInspect).find("no field \"X\""), std::string::npos);
  EXPECT_NE(RenderErr("{{.Id", kInspect).find("unclosed"), std::string::npos);
  EXPECT_NE(RenderErr("{{printf .Id}}", kInspect).find("not defined"), std::string::npos);
  EXPECT_NE(RenderErr("{{json}}", kInspect).find("needs a field"), std::string::npos);
  EXPECT_NE(RenderErr("{{index .Config.Env 5}}", kInspect).find("out of range"), std::string::npos);
  EXPECT_NE(RenderErr("{{join .Name \",\"}}", kInspect).find("join needs an array"), std::string::npos);
  EXPECT_NE(RenderErr("{{index .Config.Labels}}", kInspect).find("wrong number"), std::string::npos);
  EXPECT_NE(RenderErr("{{}}", kInspect).find("empty action"), std::string::npos);
}

TEST(Format, Tables) {
  std::vector<json> rows = {{{"ID", "abc"}, {"Names", "web"}, {"State", "running"}},
                            {{"ID", "defghi"}, {"Names", "db"}, {"State", "exited"}}};
  std::map<std::string, std::string> headers = {{"ID", "CONTAINER ID"}, {"Names", "NAMES"}};
  auto out = FormatRows(R"(table {{.ID}}\t{{.Names}})", "", rows, headers);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(*out, "CONTAINER ID   NAMES\nabc            web\ndefghi         db\n");
  // Unknown header names default to the field upper-cased.
  out = FormatRows("table {{.State}}", "", rows, headers);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "STATE\nrunning\nexited\n");
  // "" and "table" use the default; plain templates print one line per row; json one object per line.
  out = FormatRows("", "table {{.ID}}\t{{.State}}", rows, headers);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "CONTAINER ID   STATE\nabc            running\ndefghi         exited\n");
  out = FormatRows("table", "table {{.Names}}", rows, headers);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "NAMES\nweb\ndb\n");
  out = FormatRows("{{.Names}}:{{.State}}", "table {{.ID}}", rows, headers);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "web:running\ndb:exited\n");
  out = FormatRows("json", "table {{.ID}}", {rows[0]}, headers);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, R"({"ID":"abc","Names":"web","State":"running"})"
                  "\n");
  EXPECT_FALSE(FormatRows("table {{.Bogus}}", "", rows, headers));
}

}  // namespace
}  // namespace moor::cli
