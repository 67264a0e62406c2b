// Internals of the template engine (template_engine.h): the values a
// template computes with and the parsed tree. Not for use outside the
// template_*.cc files.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"

namespace moor::discovery {
class TemplateData;
}

namespace moor::discovery::tmpl {

// A dynamically typed value. Structs (service instances, KV pairs) are maps
// flagged as structs: a missing field on them is an error, on a plain map it
// yields nil — the difference Go makes between struct fields and map keys.
struct Value {
  enum class Kind { kNil, kBool, kInt, kString, kList, kMap };
  using List = std::vector<Value>;
  using Map = std::map<std::string, Value>;

  Kind kind = Kind::kNil;
  bool b = false;
  int64_t i = 0;
  std::string s;
  std::shared_ptr<const List> list;
  std::shared_ptr<const Map> map;
  bool is_struct = false;

  static Value Bool(bool v);
  static Value Int(int64_t v);
  static Value Str(std::string v);
  static Value Of(List v);
  static Value Of(Map v, bool is_struct = false);
  static Value Strings(const std::vector<std::string>& v);

  bool Truth() const;
  // How an action prints it: nil "<no value>", lists "[a b]", maps "map[k:v]".
  std::string Print() const;
  std::string TypeName() const;
};

struct Pos {
  int line = 1;
  int col = 1;
};

struct Pipeline;

struct Term {
  enum class Kind { kDot, kField, kVariable, kString, kInt, kBool, kNil, kFunction, kSub };
  Kind kind = Kind::kNil;
  std::string text;                 // variable ("$x", "$"), function name, string value
  int64_t number = 0;
  bool boolean = false;
  std::vector<std::string> fields;  // .A.B after the term (kField: the whole chain)
  std::shared_ptr<Pipeline> sub;    // kSub: (pipeline)
  Pos pos;
};

struct Command {
  std::vector<Term> args;
  Pos pos;
};

struct Pipeline {
  std::vector<std::string> vars;  // "$x"…, declared (:=) or assigned (=)
  bool declare = false;
  std::vector<Command> cmds;
  Pos pos;
};

struct Node {
  enum class Kind { kText, kAction, kIf, kRange, kWith, kBreak, kContinue };
  Kind kind = Kind::kText;
  std::string text;
  std::shared_ptr<Pipeline> pipe;
  std::vector<Node> body;
  std::vector<Node> else_body;  // "else if" / "else with": one nested kIf/kWith node
  Pos pos;
};

struct Tree {
  std::string name;
  std::vector<Node> root;
};

// True for the names template_funcs.cc implements (checked at parse time,
// as Go does, so a typo fails when the template is added).
bool IsFunction(const std::string& name);

// What functions read. `and`/`or` are evaluated by the executor (they
// short-circuit); everything else is called with evaluated arguments.
struct FuncContext {
  TemplateData& data;
  const std::map<std::string, std::string>& env;
};
// Errors carry the message only; the executor prefixes the position.
Result<Value> CallFunction(const std::string& name, FuncContext& ctx, std::vector<Value>& args);
// Go's eq on two values (basic kinds only; mismatched kinds are an error).
Result<bool> Equal(const Value& a, const Value& b);

}  // namespace moor::discovery::tmpl
