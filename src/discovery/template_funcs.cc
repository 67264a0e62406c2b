// The template functions (list and semantics in template_engine.h): Go's
// builtins the templates use plus consul-template's catalog/KV/string ones.
#include <algorithm>
#include <functional>
#include <unordered_map>

#include "common/strings.h"
#include "discovery/template_ast.h"
#include "discovery/template_engine.h"

namespace moor::discovery::tmpl {
namespace {

using Args = std::vector<Value>;
using Fn = std::function<Result<Value>(FuncContext&, Args&)>;

Result<void> Arity(const Args& a, size_t min, size_t max) {
  if (a.size() < min || a.size() > max) {
    std::string want = min == max ? std::to_string(min) : std::to_string(min) + ".." + std::to_string(max);
    return FailInvalid("wrong number of args: want " + want + " got " + std::to_string(a.size()));
  }
  return {};
}

Result<std::string> Str(const Value& v, const char* what) {
  if (v.kind != Value::Kind::kString) return FailInvalid(std::string(what) + " must be a string, not " + v.TypeName());
  return v.s;
}

std::string StripSlash(std::string s) {
  while (!s.empty() && s.front() == '/') s.erase(0, 1);
  return s;
}

Value CheckValue(const CheckState& c, const discovery::Node& node) {
  Value::Map m;
  m["CheckID"] = Value::Str(c.def.id);
  m["Name"] = Value::Str(c.def.name);
  m["Status"] = Value::Str(std::string(HealthName(c.status)));
  m["Output"] = Value::Str(c.output);
  m["Notes"] = Value::Str(c.def.notes);
  m["ServiceID"] = Value::Str(c.service_id);
  m["ServiceName"] = Value::Str(c.service_name);
  m["Node"] = Value::Str(node.name);
  return Value::Of(std::move(m), true);
}

Value InstanceValue(const InstanceHealth& h, const discovery::Node& node) {
  const ServiceInstance& s = h.service;
  Value::Map meta;
  for (const auto& [k, v] : s.meta) meta[k] = Value::Str(v);
  Value::List checks;
  for (const auto& c : h.checks) checks.push_back(CheckValue(c, node));
  Value::Map m;
  m["ID"] = Value::Str(s.id);
  m["Name"] = Value::Str(s.name);
  // consul-template falls back to the node's address when the service has none.
  m["Address"] = Value::Str(s.address.empty() ? node.address : s.address);
  m["Port"] = Value::Int(s.port);
  m["Tags"] = Value::Strings(s.tags);
  m["ServiceMeta"] = Value::Of(std::move(meta));
  m["Status"] = Value::Str(std::string(HealthName(h.health)));
  m["Checks"] = Value::Of(std::move(checks));
  m["Node"] = Value::Str(node.name);
  m["NodeID"] = Value::Str(node.id);
  m["NodeAddress"] = Value::Str(node.address);
  m["Datacenter"] = Value::Str(node.datacenter);
  return Value::Of(std::move(m), true);
}

Result<Value> Service(FuncContext& ctx, Args& a) {
  TRY(Arity(a, 1, 2));
  std::string spec = TRY(Str(a[0], "service name"));
  discovery::Node node = ctx.data.LocalNode();
  if (auto at = spec.find('@'); at != std::string::npos) {
    std::string dc = spec.substr(at + 1);
    if (dc != node.datacenter) return FailInvalid("datacenter \"" + dc + "\" is not served here (only " + node.datacenter + ")");
    spec.resize(at);
  }
  std::string tag, name = spec;
  if (auto dot = spec.rfind('.'); dot != std::string::npos) {
    tag = spec.substr(0, dot);
    name = spec.substr(dot + 1);
  }
  if (name.empty()) return FailInvalid("empty service name in \"" + spec + "\"");
  std::vector<Health> states{Health::kPassing};
  if (a.size() == 2) {
    std::string filter = TRY(Str(a[1], "health filter"));
    states.clear();
    if (filter == "any") {
      states = {Health::kPassing, Health::kWarning, Health::kCritical};
    } else {
      for (const auto& part : Split(filter, ',')) {
        auto h = ParseHealth(Trim(part));
        if (!h) return FailInvalid("unknown health state \"" + part + "\" (use any, or passing,warning,critical)");
        states.push_back(*h);
      }
    }
  }
  Value::List out;
  for (const auto& h : ctx.data.Service(name, tag, states)) out.push_back(InstanceValue(h, node));
  return Value::Of(std::move(out));
}

Result<Value> Services(FuncContext& ctx, Args& a) {
  TRY(Arity(a, 0, 0));
  Value::List out;
  for (const auto& [name, tags] : ctx.data.Services()) {
    Value::Map m;
    m["Name"] = Value::Str(name);
    m["Tags"] = Value::Strings(tags);
    out.push_back(Value::Of(std::move(m), true));
  }
  return Value::Of(std::move(out));
}

Result<Value> KeyFn(FuncContext& ctx, Args& a) {
  TRY(Arity(a, 1, 1));
  std::string k = StripSlash(TRY(Str(a[0], "key")));
  auto e = ctx.data.Key(k);
  if (!e) return FailInvalid("key \"" + k + "\" does not exist (use keyOrDefault for optional keys)");
  return Value::Str(e->value);
}

Result<Value> KeyOrDefault(FuncContext& ctx, Args& a) {
  TRY(Arity(a, 2, 2));
  std::string k = StripSlash(TRY(Str(a[0], "key")));
  std::string def = TRY(Str(a[1], "default"));
  auto e = ctx.data.Key(k);
  return Value::Str(e ? e->value : def);
}

// ls (direct children only) and tree (everything below): keys relative to
// the prefix, folder markers ("dir/") left out.
Result<Value> ListKeys(FuncContext& ctx, Args& a, bool recurse) {
  TRY(Arity(a, 1, 1));
  std::string prefix = StripSlash(TRY(Str(a[0], "prefix")));
  if (!prefix.empty() && prefix.back() != '/') prefix += '/';
  Value::List out;
  for (const auto& e : ctx.data.List(prefix)) {
    if (!e.key.starts_with(prefix)) continue;
    std::string rel = e.key.substr(prefix.size());
    if (rel.empty() || rel.back() == '/') continue;
    if (!recurse && rel.find('/') != std::string::npos) continue;
    Value::Map m;
    m["Key"] = Value::Str(rel);
    m["Value"] = Value::Str(e.value);
    out.push_back(Value::Of(std::move(m), true));
  }
  return Value::Of(std::move(out));
}

Result<Value> Env(FuncContext& ctx, Args& a) {
  TRY(Arity(a, 1, 1));
  std::string k = TRY(Str(a[0], "variable name"));
  auto it = ctx.env.find(k);
  return Value::Str(it == ctx.env.end() ? "" : it->second);
}

Result<Value> Len(FuncContext&, Args& a) {
  TRY(Arity(a, 1, 1));
  switch (a[0].kind) {
    case Value::Kind::kString: return Value::Int(static_cast<int64_t>(a[0].s.size()));
    case Value::Kind::kList: return Value::Int(static_cast<int64_t>(a[0].list->size()));
    case Value::Kind::kMap:
      if (!a[0].is_struct) return Value::Int(static_cast<int64_t>(a[0].map->size()));
      [[fallthrough]];
    default: return FailInvalid("len of " + a[0].TypeName());
  }
}

Result<int> Compare(const Value& x, const Value& y) {
  if (x.kind == Value::Kind::kInt && y.kind == Value::Kind::kInt) return x.i < y.i ? -1 : x.i > y.i ? 1 : 0;
  if (x.kind == Value::Kind::kString && y.kind == Value::Kind::kString) return x.s.compare(y.s) < 0 ? -1 : x.s == y.s ? 0 : 1;
  if (x.kind != y.kind) return FailInvalid("incompatible types for comparison: " + x.TypeName() + " and " + y.TypeName());
  return FailInvalid("invalid type for comparison: " + x.TypeName());
}

Fn Ordered(std::function<bool(int)> ok) {
  return [ok](FuncContext&, Args& a) -> Result<Value> {
    TRY(Arity(a, 2, 2));
    return Value::Bool(ok(TRY(Compare(a[0], a[1]))));
  };
}

// Haystack a list (element equal), string (substring) or map (key present).
Result<bool> Holds(const Value& hay, const Value& needle) {
  switch (hay.kind) {
    case Value::Kind::kNil: return false;
    case Value::Kind::kList:
      for (const auto& e : *hay.list) {
        if (e.kind != needle.kind) continue;
        if (TRY(Equal(e, needle))) return true;
      }
      return false;
    case Value::Kind::kString:
      if (needle.kind != Value::Kind::kString) return FailInvalid("cannot look for " + needle.TypeName() + " in a string");
      return hay.s.find(needle.s) != std::string::npos;
    case Value::Kind::kMap:
      if (needle.kind != Value::Kind::kString) return FailInvalid("map keys are strings, not " + needle.TypeName());
      return hay.map->contains(needle.s);
    default: return FailInvalid("cannot look for a value in " + hay.TypeName());
  }
}

Result<Value> Join(FuncContext&, Args& a) {
  TRY(Arity(a, 2, 2));
  std::string sep = TRY(Str(a[0], "separator"));
  if (a[1].kind == Value::Kind::kNil) return Value::Str("");
  if (a[1].kind != Value::Kind::kList) return FailInvalid("join needs a list, not " + a[1].TypeName());
  std::string out;
  for (size_t k = 0; k < a[1].list->size(); ++k) {
    if (k) out += sep;
    out += (*a[1].list)[k].Print();
  }
  return Value::Str(out);
}

Result<Value> SplitFn(FuncContext&, Args& a) {
  TRY(Arity(a, 2, 2));
  std::string sep = TRY(Str(a[0], "separator"));
  std::string s = TRY(Str(a[1], "split's argument"));
  if (s.empty()) return Value::Of(Value::List{});
  if (sep.empty()) return FailInvalid("empty separator");
  std::vector<std::string> parts;
  size_t from = 0;
  for (size_t at; (at = s.find(sep, from)) != std::string::npos; from = at + sep.size()) parts.push_back(s.substr(from, at - from));
  parts.push_back(s.substr(from));
  return Value::Strings(parts);
}

Fn StringMap(std::function<std::string(std::string)> f) {
  return [f](FuncContext&, Args& a) -> Result<Value> {
    TRY(Arity(a, 1, 1));
    return Value::Str(f(TRY(Str(a[0], "argument"))));
  };
}

Result<Value> ReplaceAll(FuncContext&, Args& a) {
  TRY(Arity(a, 3, 3));
  std::string from = TRY(Str(a[0], "old"));
  std::string to = TRY(Str(a[1], "new"));
  std::string s = TRY(Str(a[2], "string"));
  if (from.empty()) return Value::Str(s);
  std::string out;
  size_t pos = 0;
  for (size_t at; (at = s.find(from, pos)) != std::string::npos; pos = at + from.size()) out += s.substr(pos, at - pos) + to;
  return Value::Str(out + s.substr(pos));
}

std::string Pad(std::string s, size_t width, bool left, bool zero) {
  if (s.size() >= width) return s;
  if (left) return s + std::string(width - s.size(), ' ');
  if (zero && !s.empty() && s[0] == '-') return "-" + std::string(width - s.size(), '0') + s.substr(1);
  return std::string(width - s.size(), zero ? '0' : ' ') + s;
}

std::string Hex(const Value& v) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  if (v.kind == Value::Kind::kInt) {
    uint64_t u = v.i < 0 ? 0 - static_cast<uint64_t>(v.i) : static_cast<uint64_t>(v.i);
    do {
      out.insert(out.begin(), digits[u & 15]);
      u >>= 4;
    } while (u);
    return v.i < 0 ? "-" + out : out;
  }
  for (unsigned char c : v.s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

Result<Value> Printf(FuncContext&, Args& a) {
  if (a.empty()) return FailInvalid("wrong number of args: want at least 1 got 0");
  std::string fmt = TRY(Str(a[0], "format"));
  std::string out;
  size_t next = 1;
  for (size_t k = 0; k < fmt.size(); ++k) {
    if (fmt[k] != '%') {
      out += fmt[k];
      continue;
    }
    bool left = false, zero = false;
    size_t width = 0;
    ++k;
    for (; k < fmt.size() && (fmt[k] == '-' || fmt[k] == '0'); ++k) (fmt[k] == '-' ? left : zero) = true;
    for (; k < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[k])); ++k) width = width * 10 + (fmt[k] - '0');
    if (k >= fmt.size()) {
      out += "%!(NOVERB)";
      break;
    }
    char verb = fmt[k];
    if (verb == '%') {
      out += '%';
      continue;
    }
    if (next >= a.size()) {
      out += std::string("%!") + verb + "(MISSING)";
      continue;
    }
    const Value& v = a[next++];
    std::string s;
    switch (verb) {
      case 'v':
      case 's': s = v.kind == Value::Kind::kNil ? "<nil>" : v.Print(); break;
      case 'd':
        s = v.kind == Value::Kind::kInt ? std::to_string(v.i) : "%!d(" + v.TypeName() + "=" + v.Print() + ")";
        break;
      case 'q': s = v.kind == Value::Kind::kString ? JsonQuote(v.s) : "%!q(" + v.TypeName() + "=" + v.Print() + ")"; break;
      case 'x':
        s = v.kind == Value::Kind::kInt || v.kind == Value::Kind::kString ? Hex(v)
                                                                          : "%!x(" + v.TypeName() + "=" + v.Print() + ")";
        break;
      default: s = std::string("%!") + verb + "(" + v.TypeName() + "=" + v.Print() + ")"; break;
    }
    out += Pad(s, width, left, zero && verb != 's' && verb != 'q');
  }
  if (next < a.size()) {
    out += "%!(EXTRA ";
    for (size_t k = next; k < a.size(); ++k) out += (k > next ? ", " : "") + a[k].TypeName() + "=" + a[k].Print();
    out += ")";
  }
  return Value::Str(out);
}

// Go's fmt.Sprint: a space between operands when neither is a string.
Result<Value> Print(FuncContext&, Args& a) {
  std::string out;
  for (size_t k = 0; k < a.size(); ++k) {
    if (k && a[k].kind != Value::Kind::kString && a[k - 1].kind != Value::Kind::kString) out += ' ';
    out += a[k].kind == Value::Kind::kNil ? "<nil>" : a[k].Print();
  }
  return Value::Str(out);
}

Result<Value> Index(FuncContext&, Args& a) {
  if (a.empty()) return FailInvalid("wrong number of args: want at least 1 got 0");
  Value v = a[0];
  for (size_t k = 1; k < a.size(); ++k) {
    const Value& key = a[k];
    if (v.kind == Value::Kind::kList) {
      if (key.kind != Value::Kind::kInt) return FailInvalid("cannot index a list with " + key.TypeName());
      if (key.i < 0 || static_cast<size_t>(key.i) >= v.list->size())
        return FailInvalid("index out of range: " + std::to_string(key.i));
      v = Value((*v.list)[static_cast<size_t>(key.i)]);
    } else if (v.kind == Value::Kind::kMap) {
      if (key.kind != Value::Kind::kString) return FailInvalid("cannot index a map with " + key.TypeName());
      auto it = v.map->find(key.s);
      if (it == v.map->end()) {
        if (v.is_struct) return FailInvalid("no field " + key.s);
        v = Value::Str("");  // Go yields the element type's zero value: ""
      } else {
        v = Value(it->second);
      }
    } else if (v.kind == Value::Kind::kString) {
      if (key.kind != Value::Kind::kInt) return FailInvalid("cannot index a string with " + key.TypeName());
      if (key.i < 0 || static_cast<size_t>(key.i) >= v.s.size())
        return FailInvalid("index out of range: " + std::to_string(key.i));
      v = Value::Int(static_cast<unsigned char>(v.s[static_cast<size_t>(key.i)]));
    } else {
      return FailInvalid("cannot index " + v.TypeName());
    }
  }
  return v;
}

const std::unordered_map<std::string, Fn>& Table() {
  static const auto* table = new std::unordered_map<std::string, Fn>{
      {"service", Service},
      {"services", Services},
      {"key", KeyFn},
      {"keyOrDefault", KeyOrDefault},
      {"ls", [](FuncContext& c, Args& a) { return ListKeys(c, a, false); }},
      {"tree", [](FuncContext& c, Args& a) { return ListKeys(c, a, true); }},
      {"env", Env},
      {"len", Len},
      {"eq",
       [](FuncContext&, Args& a) -> Result<Value> {
         if (a.size() < 2) return FailInvalid("wrong number of args: want at least 2 got " + std::to_string(a.size()));
         for (size_t k = 1; k < a.size(); ++k)
           if (TRY(Equal(a[0], a[k]))) return Value::Bool(true);
         return Value::Bool(false);
       }},
      {"ne",
       [](FuncContext&, Args& a) -> Result<Value> {
         TRY(Arity(a, 2, 2));
         return Value::Bool(!TRY(Equal(a[0], a[1])));
       }},
      {"lt", Ordered([](int c) { return c < 0; })},
      {"le", Ordered([](int c) { return c <= 0; })},
      {"gt", Ordered([](int c) { return c > 0; })},
      {"ge", Ordered([](int c) { return c >= 0; })},
      {"and", nullptr},  // evaluated by the executor (short-circuit)
      {"or", nullptr},
      {"not",
       [](FuncContext&, Args& a) -> Result<Value> {
         TRY(Arity(a, 1, 1));
         return Value::Bool(!a[0].Truth());
       }},
      {"contains",
       [](FuncContext&, Args& a) -> Result<Value> {
         TRY(Arity(a, 2, 2));
         return Value::Bool(TRY(Holds(a[1], a[0])));
       }},
      {"in",
       [](FuncContext&, Args& a) -> Result<Value> {
         TRY(Arity(a, 2, 2));
         return Value::Bool(TRY(Holds(a[0], a[1])));
       }},
      {"join", Join},
      {"split", SplitFn},
      {"toLower", StringMap([](std::string s) {
         for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
         return s;
       })},
      {"toUpper", StringMap([](std::string s) {
         for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
         return s;
       })},
      {"trimSpace", StringMap([](std::string s) { return std::string(Trim(s)); })},
      {"replaceAll", ReplaceAll},
      {"printf", Printf},
      {"print", Print},
      {"index", Index},
  };
  return *table;
}

}  // namespace

bool IsFunction(const std::string& name) { return Table().contains(name); }

Result<Value> CallFunction(const std::string& name, FuncContext& ctx, std::vector<Value>& args) {
  auto it = Table().find(name);
  if (it == Table().end() || !it->second) return FailInvalid("function \"" + name + "\" not defined");
  return it->second(ctx, args);
}

Result<bool> Equal(const Value& a, const Value& b) {
  if (a.kind == Value::Kind::kNil || b.kind == Value::Kind::kNil) return a.kind == b.kind;
  if (a.kind != b.kind) return FailInvalid("incompatible types for comparison: " + a.TypeName() + " and " + b.TypeName());
  switch (a.kind) {
    case Value::Kind::kBool: return a.b == b.b;
    case Value::Kind::kInt: return a.i == b.i;
    case Value::Kind::kString: return a.s == b.s;
    default: return FailInvalid("non-comparable type " + a.TypeName());
  }
}

}  // namespace moor::discovery::tmpl
