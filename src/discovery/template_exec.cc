// Executes a parsed template (template_ast.h) with Go text/template's
// semantics: pipelines pass their value as the last argument, variables are
// scoped to the block that declared them, range/with rebind dot.
#include "discovery/template_ast.h"
#include "discovery/template_engine.h"

namespace moor::discovery {
namespace tmpl {

Value Value::Bool(bool v) {
  Value x;
  x.kind = Kind::kBool;
  x.b = v;
  return x;
}
Value Value::Int(int64_t v) {
  Value x;
  x.kind = Kind::kInt;
  x.i = v;
  return x;
}
Value Value::Str(std::string v) {
  Value x;
  x.kind = Kind::kString;
  x.s = std::move(v);
  return x;
}
Value Value::Of(List v) {
  Value x;
  x.kind = Kind::kList;
  x.list = std::make_shared<const List>(std::move(v));
  return x;
}
Value Value::Of(Map v, bool is_struct) {
  Value x;
  x.kind = Kind::kMap;
  x.map = std::make_shared<const Map>(std::move(v));
  x.is_struct = is_struct;
  return x;
}
Value Value::Strings(const std::vector<std::string>& v) {
  List l;
  l.reserve(v.size());
  for (const auto& s : v) l.push_back(Str(s));
  return Of(std::move(l));
}

bool Value::Truth() const {
  switch (kind) {
    case Kind::kNil: return false;
    case Kind::kBool: return b;
    case Kind::kInt: return i != 0;
    case Kind::kString: return !s.empty();
    case Kind::kList: return !list->empty();
    case Kind::kMap: return is_struct || !map->empty();
  }
  return false;
}

std::string Value::Print() const {
  switch (kind) {
    case Kind::kNil: return "<no value>";
    case Kind::kBool: return b ? "true" : "false";
    case Kind::kInt: return std::to_string(i);
    case Kind::kString: return s;
    case Kind::kList: {
      std::string out = "[";
      for (size_t k = 0; k < list->size(); ++k) {
        if (k) out += ' ';
        out += (*list)[k].kind == Kind::kNil ? "<nil>" : (*list)[k].Print();
      }
      return out + "]";
    }
    case Kind::kMap: {
      std::string out = is_struct ? "{" : "map[";
      bool first = true;
      for (const auto& [k, v] : *map) {
        if (!first) out += ' ';
        first = false;
        if (!is_struct) out += k + ":";
        out += v.kind == Kind::kNil ? "<nil>" : v.Print();
      }
      return out + (is_struct ? "}" : "]");
    }
  }
  return "";
}

std::string Value::TypeName() const {
  switch (kind) {
    case Kind::kNil: return "nil";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kString: return "string";
    case Kind::kList: return "list";
    case Kind::kMap: return is_struct ? "struct" : "map";
  }
  return "";
}

namespace {

constexpr size_t kMaxOutput = 16u << 20;
constexpr int64_t kMaxRangeInt = 1'000'000;

enum class Flow { kNormal, kBreak, kContinue };

class Exec {
 public:
  Exec(const Tree& tree, FuncContext ctx) : tree_(tree), ctx_(ctx) { vars_.push_back({"$", Value()}); }

  Result<std::string> Run() {
    TRY(Walk(tree_.root, Value()));
    return std::move(out_);
  }

 private:
  std::unexpected<Error> Err(Pos p, const std::string& msg) const {
    return FailInvalid(tree_.name + ":" + std::to_string(p.line) + ":" + std::to_string(p.col) + ": " + msg);
  }

  Result<Flow> Walk(const std::vector<Node>& list, const Value& dot) {
    size_t mark = vars_.size();
    Flow flow = Flow::kNormal;
    for (const Node& n : list) {
      flow = TRY(WalkNode(n, dot));
      if (flow != Flow::kNormal) break;
    }
    vars_.resize(mark);
    return flow;
  }

  Result<Flow> WalkNode(const Node& n, const Value& dot) {
    switch (n.kind) {
      case Node::Kind::kText:
        TRY(Emit(n.text, n.pos));
        return Flow::kNormal;
      case Node::Kind::kAction: {
        Value v = TRY(EvalPipe(*n.pipe, dot, true));
        if (n.pipe->vars.empty()) TRY(Emit(v.Print(), n.pos));
        return Flow::kNormal;
      }
      case Node::Kind::kBreak: return Flow::kBreak;
      case Node::Kind::kContinue: return Flow::kContinue;
      case Node::Kind::kIf:
      case Node::Kind::kWith: {
        size_t mark = vars_.size();
        Value v = TRY(EvalPipe(*n.pipe, dot, true));
        Flow flow;
        if (v.Truth())
          flow = TRY(Walk(n.body, n.kind == Node::Kind::kWith ? v : dot));
        else
          flow = TRY(Walk(n.else_body, dot));
        vars_.resize(mark);
        return flow;
      }
      case Node::Kind::kRange: return Range(n, dot);
    }
    return Flow::kNormal;
  }

  Result<Flow> Range(const Node& n, const Value& dot) {
    size_t mark = vars_.size();
    Value v = TRY(EvalPipe(*n.pipe, dot, false));
    const auto& names = n.pipe->vars;
    bool any = false;
    auto one = [&](Value key, const Value& elem) -> Result<bool> {
      any = true;
      if (names.size() == 1) vars_.push_back({names[0], elem});
      if (names.size() == 2) {
        vars_.push_back({names[0], std::move(key)});
        vars_.push_back({names[1], elem});
      }
      Flow f = TRY(Walk(n.body, elem));
      vars_.resize(mark);
      return f != Flow::kBreak;
    };
    switch (v.kind) {
      case Value::Kind::kNil: break;
      case Value::Kind::kList:
        for (size_t k = 0; k < v.list->size(); ++k)
          if (!TRY(one(Value::Int(static_cast<int64_t>(k)), (*v.list)[k]))) break;
        break;
      case Value::Kind::kMap:
        for (const auto& [k, e] : *v.map)
          if (!TRY(one(Value::Str(k), e))) break;
        break;
      case Value::Kind::kInt:
        if (names.size() == 2) return Err(n.pos, "can't use two variables when ranging over an int");
        // An empty body would otherwise spin unbounded on the render thread.
        if (v.i > kMaxRangeInt) return Err(n.pos, "range over " + std::to_string(v.i) + ": at most 1000000 iterations");
        for (int64_t k = 0; k < v.i; ++k)
          if (!TRY(one(Value(), Value::Int(k)))) break;
        break;
      default:
        return Err(n.pos, "range can't iterate over " + v.TypeName() + " " + v.Print());
    }
    vars_.resize(mark);
    if (!any) TRY(Walk(n.else_body, dot));
    return Flow::kNormal;
  }

  Result<void> Emit(const std::string& s, Pos p) {
    if (out_.size() + s.size() > kMaxOutput) return Err(p, "output larger than 16 MiB");
    out_ += s;
    return {};
  }

  // bind: assign the value to the pipeline's variables (not for range,
  // whose variables take the elements).
  Result<Value> EvalPipe(const Pipeline& p, const Value& dot, bool bind) {
    Value v;
    for (size_t k = 0; k < p.cmds.size(); ++k) v = TRY(EvalCommand(p.cmds[k], dot, k ? &v : nullptr));
    if (bind) {
      for (const auto& name : p.vars) {
        if (p.declare) {
          vars_.push_back({name, v});
          continue;
        }
        for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
          if (it->first == name) {
            it->second = v;
            break;
          }
      }
    }
    return v;
  }

  Result<Value> EvalCommand(const Command& c, const Value& dot, const Value* final) {
    const Term& head = c.args[0];
    if (head.kind != Term::Kind::kFunction) {
      if (c.args.size() > 1 || final)
        return Err(c.pos, "can't give argument to non-function " + Describe(head));
      return EvalArg(head, dot);
    }
    if (head.text == "and" || head.text == "or") {
      bool is_and = head.text == "and";
      size_t n = c.args.size() - 1 + (final ? 1 : 0);
      if (n == 0) return Err(head.pos, "wrong number of args for " + head.text + ": want at least 1 got 0");
      Value v;
      for (size_t k = 1; k <= n; ++k) {
        v = k < c.args.size() ? TRY(EvalArg(c.args[k], dot)) : *final;
        if (v.Truth() != is_and) return v;
      }
      return v;
    }
    std::vector<Value> args;
    for (size_t k = 1; k < c.args.size(); ++k) args.push_back(TRY(EvalArg(c.args[k], dot)));
    if (final) args.push_back(*final);
    auto r = CallFunction(head.text, ctx_, args);
    if (!r) return Err(head.pos, "error calling " + head.text + ": " + r.error().message());
    return std::move(*r);
  }

  static std::string Describe(const Term& t) {
    std::string s;
    switch (t.kind) {
      case Term::Kind::kDot: s = "."; break;
      case Term::Kind::kVariable: s = t.text; break;
      case Term::Kind::kString: s = "\"" + t.text + "\""; break;
      case Term::Kind::kInt: s = std::to_string(t.number); break;
      case Term::Kind::kBool: s = t.boolean ? "true" : "false"; break;
      case Term::Kind::kNil: s = "nil"; break;
      case Term::Kind::kSub: s = "(…)"; break;
      default: break;
    }
    for (const auto& f : t.fields) s += "." + f;
    return s;
  }

  Result<Value> EvalArg(const Term& t, const Value& dot) {
    Value v;
    switch (t.kind) {
      case Term::Kind::kDot:
      case Term::Kind::kField: v = dot; break;
      case Term::Kind::kVariable: {
        bool found = false;
        for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
          if (it->first == t.text) {
            v = it->second;
            found = true;
            break;
          }
        if (!found) return Err(t.pos, "undefined variable \"" + t.text + "\"");
        break;
      }
      case Term::Kind::kString: return Value::Str(t.text);
      case Term::Kind::kInt: return Value::Int(t.number);
      case Term::Kind::kBool: return Value::Bool(t.boolean);
      case Term::Kind::kNil: return Value();
      case Term::Kind::kFunction: {
        std::vector<Value> none;
        if (t.text == "and" || t.text == "or")
          return Err(t.pos, "wrong number of args for " + t.text + ": want at least 1 got 0");
        auto r = CallFunction(t.text, ctx_, none);
        if (!r) return Err(t.pos, "error calling " + t.text + ": " + r.error().message());
        return std::move(*r);
      }
      case Term::Kind::kSub: v = TRY(EvalPipe(*t.sub, dot, true)); break;
    }
    for (const auto& f : t.fields) v = TRY(Field(v, f, t.pos));
    return v;
  }

  Result<Value> Field(const Value& v, const std::string& name, Pos p) {
    if (v.kind == Value::Kind::kMap) {
      auto it = v.map->find(name);
      if (it != v.map->end()) return it->second;
      if (!v.is_struct) return Value();
      return Err(p, "can't evaluate field " + name + " (no such field)");
    }
    if (v.kind == Value::Kind::kNil) return Err(p, "can't evaluate field " + name + " of a nil value");
    return Err(p, "can't evaluate field " + name + " in type " + v.TypeName());
  }

  const Tree& tree_;
  FuncContext ctx_;
  std::string out_;
  std::vector<std::pair<std::string, Value>> vars_;
};

}  // namespace
}  // namespace tmpl

Result<std::string> Template::Render(TemplateData& data, const std::map<std::string, std::string>& env) const {
  return tmpl::Exec(*tree_, tmpl::FuncContext{data, env}).Run();
}

}  // namespace moor::discovery
