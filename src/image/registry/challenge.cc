#include "image/registry/challenge.h"

#include <cctype>

namespace moor::image::registry {
namespace {

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~/:").find(c) != std::string_view::npos;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A cursor over the header text.
struct Scanner {
  std::string_view s;
  size_t i = 0;

  bool Done() const { return i >= s.size(); }
  void SkipSpace() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  }
  void SkipSeparators() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == ',')) ++i;
  }
  std::string_view Token() {
    size_t start = i;
    while (i < s.size() && IsTokenChar(s[i])) ++i;
    return s.substr(start, i - start);
  }
  // After the opening quote: reads to the closing quote, unescaping.
  std::string Quoted() {
    std::string out;
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      out += s[i++];
    }
    if (i < s.size()) ++i;  // closing quote
    return out;
  }
};

}  // namespace

std::vector<Challenge> ParseChallenges(std::string_view header) {
  std::vector<Challenge> out;
  Scanner sc{header};
  while (true) {
    sc.SkipSeparators();
    if (sc.Done()) break;
    std::string_view scheme = sc.Token();
    if (scheme.empty()) {  // garbage: skip one character and go on
      ++sc.i;
      continue;
    }
    Challenge ch;
    ch.scheme = Lower(scheme);
    // Parameters: key=value pairs separated by commas, until a token that is
    // not followed by '=' (which starts the next challenge).
    while (true) {
      sc.SkipSeparators();
      if (sc.Done()) break;
      size_t save = sc.i;
      std::string_view key = sc.Token();
      sc.SkipSpace();
      if (key.empty() || sc.Done() || sc.s[sc.i] != '=') {
        sc.i = save;  // next challenge (or token68, which registries do not use)
        if (key.empty()) ++sc.i;
        break;
      }
      ++sc.i;  // '='
      sc.SkipSpace();
      std::string value;
      if (!sc.Done() && sc.s[sc.i] == '"') {
        ++sc.i;
        value = sc.Quoted();
      } else {
        size_t start = sc.i;
        while (!sc.Done() && sc.s[sc.i] != ',' && sc.s[sc.i] != ' ' && sc.s[sc.i] != '\t') ++sc.i;
        value = std::string(sc.s.substr(start, sc.i - start));
      }
      ch.params[Lower(key)] = std::move(value);
    }
    out.push_back(std::move(ch));
  }
  return out;
}

}  // namespace moor::image::registry
