// Compose's variable interpolation in the app file's values: $VAR, ${VAR},
// ${VAR:-default} ${VAR-default}, ${VAR:?error} ${VAR?error},
// ${VAR:+replacement} ${VAR+replacement}, and $$ for a literal '$'. Values come
// from the environment, then from a .env file beside the app file.
#include <cctype>
#include <cstdlib>

#include "app/app_internal.h"
#include "common/file.h"
#include "common/strings.h"

namespace moor::app::detail {

namespace {

struct Vars {
  std::map<std::string, std::string> dotenv;
  const std::string* Get(const std::string& name, std::string* buf) const {
    if (const char* v = std::getenv(name.c_str())) {
      *buf = v;
      return buf;
    }
    auto it = dotenv.find(name);
    return it == dotenv.end() ? nullptr : &it->second;
  }
};

bool IsNameChar(char c, bool first) {
  return c == '_' || std::isalpha(static_cast<unsigned char>(c)) ||
         (!first && std::isdigit(static_cast<unsigned char>(c)));
}

// Expands `s`; on error returns false with *err set.
bool Expand(const std::string& s, const Vars& vars, std::string* out, std::string* err, int depth) {
  if (depth > 8) {
    *err = "variables nested too deep";
    return false;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '$' || i + 1 >= s.size()) {
      *out += s[i];
      continue;
    }
    char next = s[i + 1];
    if (next == '$') {
      *out += '$';
      ++i;
    } else if (IsNameChar(next, true)) {
      size_t j = i + 1;
      while (j < s.size() && IsNameChar(s[j], false)) ++j;
      std::string buf;
      const auto* v = vars.Get(s.substr(i + 1, j - i - 1), &buf);
      if (v) *out += *v;
      i = j - 1;
    } else if (next == '{') {
      // The matching brace, nested ${…} in the default counted.
      size_t j = i + 2;
      int level = 1;
      for (; j < s.size(); ++j) {
        if (s[j] == '{') ++level;
        if (s[j] == '}' && --level == 0) break;
      }
      if (j >= s.size()) {
        *err = "unterminated ${ in \"" + s + "\"";
        return false;
      }
      std::string inner = s.substr(i + 2, j - i - 2);
      size_t k = 0;
      while (k < inner.size() && IsNameChar(inner[k], k == 0)) ++k;
      std::string name = inner.substr(0, k), op = inner.substr(k);
      if (name.empty()) {
        *err = "bad variable \"${" + inner + "}\"";
        return false;
      }
      std::string buf;
      const auto* v = vars.Get(name, &buf);
      bool colon = StartsWith(op, ":");
      bool unset = !v || (colon && v->empty());
      std::string arg = op.size() > (colon ? 2u : 1u) ? op.substr(colon ? 2 : 1) : "";
      char kind = op.empty() ? 0 : op[colon ? 1 : 0];
      if (op.empty()) {
        if (v) *out += *v;
      } else if (kind == '-') {
        if (unset) {
          if (!Expand(arg, vars, out, err, depth + 1)) return false;
        } else {
          *out += *v;
        }
      } else if (kind == '+') {
        if (!unset && !Expand(arg, vars, out, err, depth + 1)) return false;
      } else if (kind == '?') {
        if (unset) {
          *err = name + " is required" + (arg.empty() ? "" : ": " + arg);
          return false;
        }
        *out += *v;
      } else {
        *err = "bad variable \"${" + inner + "}\"";
        return false;
      }
      i = j;
    } else {
      *out += '$';
    }
  }
  return true;
}

void Walk(const Ctx& ctx, YAML::Node n, const Vars& vars, std::vector<YAML::Node>* done, int depth) {
  if (depth > 64) return;  // an alias that contains itself; the parser reports it
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (s.find('$') == std::string::npos) return;
    for (auto& d : *done) {
      if (d.is(n)) return;  // an alias of a node already expanded
    }
    std::string out, err;
    if (!Expand(s, vars, &out, &err, 0)) {
      ctx.Error(n, err, "set the variable in the environment or in .env beside the file, or write $$ for a literal $");
      return;
    }
    n = out;  // keeps the node's mark
    done->push_back(n);
  } else if (n.IsMap()) {
    for (auto it = n.begin(); it != n.end(); ++it) Walk(ctx, it->second, vars, done, depth + 1);
  } else if (n.IsSequence()) {
    for (auto x : n) Walk(ctx, x, vars, done, depth + 1);
  }
}

}  // namespace

void Interpolate(const Ctx& ctx, YAML::Node root) {
  Vars vars;
  if (auto text = ReadFile(ctx.dir + "/.env")) {
    for (auto& raw : Split(*text, '\n')) {
      std::string line(Trim(raw));
      if (line.empty() || line[0] == '#') continue;
      if (StartsWith(line, "export ")) line = std::string(Trim(line.substr(7)));
      auto eq = line.find('=');
      if (eq == std::string::npos) continue;
      std::string v(Trim(line.substr(eq + 1)));
      if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
        v = v.substr(1, v.size() - 2);
      vars.dotenv[std::string(Trim(line.substr(0, eq)))] = v;
    }
  }
  std::vector<YAML::Node> done;
  Walk(ctx, root, vars, &done, 0);
}

}  // namespace moor::app::detail
