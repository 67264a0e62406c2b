#include "cli/format.h"

#include <cctype>
#include <cmath>

#include "cli/table.h"
#include "common/strings.h"

namespace moor::cli {

using nlohmann::json;

namespace {

std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 't' || s[i + 1] == 'n')) {
      out += s[i + 1] == 't' ? '\t' : '\n';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Splits an action into words; "quoted strings" stay one word (quotes kept).
Result<std::vector<std::string>> Words(const std::string& action) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < action.size()) {
    if (std::isspace(static_cast<unsigned char>(action[i]))) {
      ++i;
      continue;
    }
    size_t start = i;
    if (action[i] == '"') {
      ++i;
      while (i < action.size() && action[i] != '"') i += action[i] == '\\' ? 2 : 1;
      if (i >= action.size()) return FailInvalid("template: unterminated string in {{" + action + "}}");
      ++i;
    } else {
      while (i < action.size() && !std::isspace(static_cast<unsigned char>(action[i]))) ++i;
    }
    out.push_back(action.substr(start, i - start));
  }
  return out;
}

std::string Unquote(const std::string& w) {
  if (w.size() < 2 || w.front() != '"') return w;
  std::string out;
  for (size_t i = 1; i + 1 < w.size(); ++i) {
    if (w[i] == '\\' && i + 2 < w.size()) {
      char c = w[++i];
      out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
    } else {
      out += w[i];
    }
  }
  return out;
}

std::string Upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string GoString(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "<no value>";
    case json::value_t::string:
      return v.get<std::string>();
    case json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    case json::value_t::number_float: {
      double d = v.get<double>();
      if (std::floor(d) == d && std::fabs(d) < 1e15) return std::to_string(static_cast<int64_t>(d));
      return v.dump();
    }
    case json::value_t::array: {
      std::vector<std::string> parts;
      for (auto& e : v) parts.push_back(GoString(e));
      return "[" + Join(parts, " ") + "]";
    }
    case json::value_t::object: {
      std::vector<std::string> parts;
      for (auto& [k, e] : v.items()) parts.push_back(k + ":" + GoString(e));
      return "map[" + Join(parts, " ") + "]";
    }
    default:
      return v.dump();
  }
}

Result<Template> Template::Parse(const std::string& format) {
  std::string f = Unescape(format);
  Template t;
  size_t pos = 0;
  while (pos < f.size()) {
    size_t open = f.find("{{", pos);
    if (open == std::string::npos) {
      t.nodes_.push_back({true, f.substr(pos), "", {}, {}});
      break;
    }
    if (open > pos) t.nodes_.push_back({true, f.substr(pos, open - pos), "", {}, {}});
    size_t close = f.find("}}", open + 2);
    if (close == std::string::npos) return FailInvalid("template: unclosed action in \"" + format + "\"");
    std::string action = f.substr(open + 2, close - open - 2);
    pos = close + 2;
    auto words = TRY(Words(action));
    if (words.empty()) return FailInvalid("template: empty action {{}}");
    Node n{false, "{{" + action + "}}", "", {}, {}};
    size_t i = 0;
    if (words[0][0] != '.') {
      n.func = words[0];
      static const char* kFuncs[] = {"json", "index", "join", "upper", "lower", "len"};
      bool known = false;
      for (auto* k : kFuncs) known |= n.func == k;
      if (!known) return FailInvalid("template: function \"" + n.func + "\" not defined in " + n.text);
      i = 1;
      if (i >= words.size() || words[i][0] != '.') {
        return FailInvalid("template: " + n.func + " needs a field argument in " + n.text);
      }
    }
    if (words[i] != ".") {
      for (auto& seg : Split(words[i].substr(1), '.')) {
        if (seg.empty()) return FailInvalid("template: bad field in " + n.text);
        n.path.push_back(seg);
      }
    }
    for (++i; i < words.size(); ++i) n.args.push_back(Unquote(words[i]));
    size_t want = n.func == "index" || n.func == "join" ? 1 : 0;
    if (n.args.size() != want) return FailInvalid("template: wrong number of arguments in " + n.text);
    t.nodes_.push_back(std::move(n));
  }
  return t;
}

Result<std::string> Template::Render(const json& data) const {
  std::string out;
  for (auto& n : nodes_) {
    if (n.is_text) {
      out += n.text;
      continue;
    }
    const json* v = &data;
    for (auto& seg : n.path) {
      if (v->is_null()) break;  // Go prints <no value> below a nil map
      if (!v->is_object() || !v->contains(seg)) {
        return FailInvalid("template: no field \"" + seg + "\" in " + n.text);
      }
      v = &(*v)[seg];
    }
    if (n.func.empty()) {
      out += GoString(*v);
    } else if (n.func == "json") {
      out += v->dump();
    } else if (n.func == "upper" || n.func == "lower") {
      std::string s = GoString(*v);
      for (auto& c : s) {
        c = static_cast<char>(n.func == "upper" ? std::toupper(static_cast<unsigned char>(c))
                                                : std::tolower(static_cast<unsigned char>(c)));
      }
      out += s;
    } else if (n.func == "len") {
      if (!v->is_array() && !v->is_object() && !v->is_string()) {
        return FailInvalid("template: len of a non-collection in " + n.text);
      }
      out += std::to_string(v->is_string() ? v->get<std::string>().size() : v->size());
    } else if (n.func == "join") {
      if (!v->is_array()) return FailInvalid("template: join needs an array in " + n.text);
      std::vector<std::string> parts;
      for (auto& e : *v) parts.push_back(GoString(e));
      out += Join(parts, n.args[0]);
    } else if (n.func == "index") {
      if (v->is_object()) {
        auto it = v->find(n.args[0]);
        out += it == v->end() ? "<no value>" : GoString(*it);
      } else if (v->is_array()) {
        auto idx = ParseUint(n.args[0]);
        if (!idx || *idx >= v->size()) return FailInvalid("template: index out of range in " + n.text);
        out += GoString((*v)[*idx]);
      } else {
        return FailInvalid("template: cannot index a " + std::string(v->type_name()) + " in " + n.text);
      }
    }
  }
  return out;
}

std::string Template::RenderHeader(const std::map<std::string, std::string>& headers) const {
  std::string out;
  for (auto& n : nodes_) {
    if (n.is_text) {
      out += n.text;
      continue;
    }
    std::string key = Join(n.path, ".");
    auto it = headers.find(key);
    out += it != headers.end() ? it->second : Upper(n.path.empty() ? "" : n.path.back());
  }
  return out;
}

bool IsTableFormat(const std::string& format, std::string* rest) {
  if (format == "table") {
    *rest = "";
    return true;
  }
  if (!StartsWith(format, "table ")) return false;
  *rest = std::string(Trim(format.substr(6)));
  return true;
}

Result<std::string> FormatRows(const std::string& format, const std::string& default_format,
                               const std::vector<json>& rows,
                               const std::map<std::string, std::string>& headers) {
  std::string f = format.empty() ? default_format : format;
  if (f == "json") {
    std::string out;
    for (auto& r : rows) out += r.dump() + "\n";
    return out;
  }
  std::string body;
  if (IsTableFormat(f, &body)) {
    if (body.empty()) IsTableFormat(default_format, &body);
    auto t = TRY(Template::Parse(body));
    auto cells = [](const std::string& line) { return Split(line, '\t'); };
    Table table(cells(t.RenderHeader(headers)));
    for (auto& r : rows) table.Add(cells(TRY(t.Render(r))));
    return table.Render();
  }
  auto t = TRY(Template::Parse(f));
  std::string out;
  for (auto& r : rows) out += TRY(t.Render(r)) + "\n";
  return out;
}

}  // namespace moor::cli
