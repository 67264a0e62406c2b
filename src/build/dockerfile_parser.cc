#include "build/dockerfile_parser.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>

#include "common/strings.h"

namespace moor::build {
namespace {

struct KeywordRule {
  std::string_view keyword;
  std::vector<std::string_view> flags;
  bool json_form;  // accepts a JSON array (exec form)
};

const std::vector<KeywordRule>& Rules() {
  static const std::vector<KeywordRule> rules = {
      {"ADD", {"chown", "chmod", "link"}, true},
      {"ARG", {}, false},
      {"CMD", {}, true},
      {"COPY", {"from", "chown", "chmod", "link"}, true},
      {"ENTRYPOINT", {}, true},
      {"ENV", {}, false},
      {"EXPOSE", {}, false},
      {"FROM", {"platform"}, false},
      {"HEALTHCHECK", {"interval", "timeout", "start-period", "start-interval", "retries"}, false},
      {"LABEL", {}, false},
      {"MAINTAINER", {}, false},
      {"ONBUILD", {}, false},
      {"RUN", {"network"}, true},
      {"SHELL", {}, true},
      {"STOPSIGNAL", {}, false},
      {"USER", {}, false},
      {"VOLUME", {}, true},
      {"WORKDIR", {}, false},
  };
  return rules;
}

const KeywordRule* FindRule(std::string_view kw) {
  for (const auto& r : Rules())
    if (r.keyword == kw) return &r;
  return nullptr;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool IsBlank(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  return s;
}

bool IsComment(std::string_view line) {
  line = TrimLeft(line);
  return !line.empty() && line.front() == '#';
}

// Removes a trailing escape char (and blanks after it); true when the line
// continues on the next one.
bool TrimContinuation(std::string& line, char escape) {
  size_t end = line.size();
  while (end > 0 && IsBlank(line[end - 1])) --end;
  if (end > 0 && line[end - 1] == escape) {
    line.resize(end - 1);
    return true;
  }
  return false;
}

// "# name=value" → {name, value}, lower-cased name.
std::optional<std::pair<std::string, std::string>> Directive(std::string_view line) {
  line = TrimLeft(line);
  if (line.empty() || line.front() != '#') return std::nullopt;
  line.remove_prefix(1);
  line = Trim(line);
  size_t eq = line.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  std::string name(Trim(line.substr(0, eq)));
  if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return std::isalnum(c); }))
    return std::nullopt;
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return std::pair{name, std::string(Trim(line.substr(eq + 1)))};
}

// A heredoc redirection "<<EOF", "<<-EOF", "<<'EOF'" (not the "<<<" here-string).
bool HasHeredoc(std::string_view s) {
  for (size_t i = 0; i + 2 < s.size(); ++i) {
    if (s[i] != '<' || s[i + 1] != '<') continue;
    if (i > 0 && s[i - 1] == '<') continue;
    size_t j = i + 2;
    if (s[j] == '<') {
      i = j;
      continue;
    }
    if (s[j] == '-') ++j;
    if (j < s.size() && (s[j] == '"' || s[j] == '\'')) ++j;
    if (j < s.size() && (std::isalpha(static_cast<unsigned char>(s[j])) || s[j] == '_')) return true;
  }
  return false;
}

std::optional<std::vector<std::string>> ParseJsonArray(std::string_view args) {
  if (args.empty() || args.front() != '[') return std::nullopt;
  auto j = nlohmann::json::parse(args, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& e : j) {
    if (!e.is_string()) return std::nullopt;
    out.push_back(e.get<std::string>());
  }
  return out;
}

size_t CountWords(std::string_view s) {
  size_t n = 0;
  bool in = false;
  for (char c : s) {
    bool blank = IsBlank(c) || c == '\n';
    if (!blank && !in) ++n;
    in = !blank;
  }
  return n;
}

}  // namespace

const Flag* Instruction::FindFlag(std::string_view name) const {
  for (const auto& f : flags)
    if (f.name == name) return &f;
  return nullptr;
}

Error InstructionError(const std::string& file, int line, std::string_view message) {
  return Error::Invalid(file + ":" + std::to_string(line) + ": " + std::string(message));
}

Result<Instruction> ParseInstruction(std::string_view text, char escape, int line, const std::string& name) {
  auto fail = [&](std::string_view msg) { return std::unexpected(InstructionError(name, line, msg)); };
  Instruction ins;
  ins.line = line;
  std::string_view rest = Trim(text);
  ins.original = std::string(rest);
  size_t kw_end = 0;
  while (kw_end < rest.size() && !IsBlank(rest[kw_end]) && rest[kw_end] != '\n') ++kw_end;
  std::string raw_kw(rest.substr(0, kw_end));
  ins.keyword = Upper(raw_kw);
  const KeywordRule* rule = FindRule(ins.keyword);
  if (!rule) return fail("unknown instruction: " + raw_kw);
  rest = Trim(rest.substr(kw_end));

  // Leading --flags.
  while (StartsWith(rest, "--")) {
    size_t end = 0;
    while (end < rest.size() && !IsBlank(rest[end]) && rest[end] != '\n') ++end;
    std::string_view word = rest.substr(2, end - 2);
    if (word.empty()) {  // a lone "--" ends the flags
      rest = Trim(rest.substr(end));
      break;
    }
    Flag f;
    size_t eq = word.find('=');
    f.name = std::string(word.substr(0, eq));
    if (eq != std::string_view::npos) {
      f.value = std::string(word.substr(eq + 1));
      f.has_value = true;
    }
    if (ins.keyword == "RUN" && (f.name == "mount" || f.name == "security"))
      return fail("RUN --" + f.name + " is not supported by moor build (it needs BuildKit)");
    if ((ins.keyword == "COPY" || ins.keyword == "ADD") &&
        (f.name == "parents" || f.name == "exclude" || f.name == "checksum" || f.name == "keep-git-dir"))
      return fail(ins.keyword + " --" + f.name + " is not supported by moor build");
    if (std::find(rule->flags.begin(), rule->flags.end(), f.name) == rule->flags.end())
      return fail(ins.keyword + ": unknown flag: --" + f.name);
    if (ins.FindFlag(f.name)) return fail(ins.keyword + ": flag --" + f.name + " given twice");
    if (!f.has_value && f.name != "link") return fail(ins.keyword + ": flag --" + f.name + " needs a value");
    ins.flags.push_back(std::move(f));
    rest = Trim(rest.substr(end));
  }
  ins.args = std::string(rest);

  if (rule->json_form) ins.json = ParseJsonArray(ins.args);
  bool heredoc_capable = ins.keyword == "RUN" || ins.keyword == "COPY" || ins.keyword == "ADD";
  if (heredoc_capable && !ins.json && HasHeredoc(ins.args))
    return fail("heredocs are not supported (" + ins.keyword +
                " <<…): put the content in a file in the build context and COPY it");

  const std::string& kw = ins.keyword;
  if (ins.args.empty() && !ins.json) return fail(kw + " requires at least one argument");
  if (kw == "FROM") {
    size_t n = CountWords(ins.args);
    auto words = SplitKeepingQuotes(ins.args, escape);
    if (n != 1 && !(n == 3 && Upper(words[1]) == "AS"))
      return fail("FROM requires either one or three arguments (FROM IMAGE [AS NAME])");
  } else if (kw == "COPY" || kw == "ADD") {
    size_t n = ins.json ? ins.json->size() : CountWords(ins.args);
    if (n < 2)
      return fail(kw + " requires at least two arguments (sources and a destination), but only " +
                  std::to_string(n) + " was provided");
  } else if (kw == "SHELL") {
    if (!ins.json)
      return fail("SHELL requires the arguments to be in JSON form: SHELL [\"executable\", \"param\"]");
    if (ins.json->empty()) return fail("SHELL requires at least one argument");
  } else if (kw == "ENV" || kw == "LABEL") {
    auto kv = ParseKeyValues(ins.args, escape, kw);
    if (!kv) return fail(kv.error().message());
  } else if (kw == "ARG") {
    for (const auto& w : SplitKeepingQuotes(ins.args, escape))
      if (w.front() == '=') return fail("ARG names can not be blank");
  } else if (kw == "HEALTHCHECK") {
    auto words = SplitKeepingQuotes(ins.args, escape);
    std::string first = Upper(words[0]);
    if (first == "NONE") {
      if (words.size() > 1) return fail("HEALTHCHECK NONE takes no other arguments");
      if (!ins.flags.empty()) return fail("HEALTHCHECK NONE takes no flags");
    } else if (first == "CMD") {
      std::string_view cmd = Trim(std::string_view(ins.args).substr(3));
      if (cmd.empty()) return fail("HEALTHCHECK CMD requires a command");
      ins.json = ParseJsonArray(cmd);
    } else {
      return fail("HEALTHCHECK: unknown type " + words[0] + " (use CMD or NONE)");
    }
  } else if (kw == "ONBUILD") {
    Instruction trigger = TRY(ParseInstruction(ins.args, escape, line, name));
    if (trigger.keyword == "ONBUILD") return fail("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    if (trigger.keyword == "FROM" || trigger.keyword == "MAINTAINER")
      return fail(trigger.keyword + " isn't allowed as an ONBUILD trigger");
    ins.trigger.push_back(std::move(trigger));
  }
  return ins;
}

Result<std::vector<std::pair<std::string, std::string>>> ParseKeyValues(std::string_view args, char escape,
                                                                        std::string_view keyword) {
  std::vector<std::pair<std::string, std::string>> out;
  auto words = SplitKeepingQuotes(args, escape);
  if (words.empty()) return FailInvalid(std::string(keyword) + " requires at least one argument");
  if (words[0].find('=') == std::string::npos) {
    // Legacy "ENV NAME value with spaces".
    std::string_view rest = Trim(args);
    size_t sp = 0;
    while (sp < rest.size() && !IsBlank(rest[sp]) && rest[sp] != '\n') ++sp;
    std::string_view value = Trim(rest.substr(sp));
    if (value.empty() && keyword == "ENV")
      return FailInvalid("ENV must have two arguments (ENV NAME=VALUE or ENV NAME VALUE)");
    if (value.empty())
      return FailInvalid(std::string(keyword) + ": can't find = in \"" + words[0] +
                         "\"; it must be of the form name=value");
    out.emplace_back(std::string(rest.substr(0, sp)), std::string(value));
    return out;
  }
  for (const auto& w : words) {
    size_t eq = w.find('=');
    if (eq == std::string::npos)
      return FailInvalid(std::string(keyword) + ": can't find = in \"" + w +
                         "\"; it must be of the form name=value");
    if (eq == 0) return FailInvalid(std::string(keyword) + " names can not be blank");
    out.emplace_back(w.substr(0, eq), w.substr(eq + 1));
  }
  return out;
}

Result<Dockerfile> ParseDockerfile(std::string_view text, std::string name) {
  Dockerfile df;
  df.name = std::move(name);
  if (StartsWith(text, "\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 BOM
  std::vector<std::string> lines = Split(text, '\n');
  for (auto& l : lines)
    if (!l.empty() && l.back() == '\r') l.pop_back();

  size_t i = 0;
  bool seen_escape = false, seen_syntax = false;
  for (; i < lines.size(); ++i) {
    auto d = Directive(lines[i]);
    if (!d) break;
    int line_no = static_cast<int>(i) + 1;
    if (d->first == "escape") {
      if (seen_escape)
        return std::unexpected(
            InstructionError(df.name, line_no, "only one escape parser directive can be used"));
      if (d->second != "\\" && d->second != "`")
        return std::unexpected(InstructionError(
            df.name, line_no, "invalid escape token '" + d->second + "' does not match ` or \\"));
      df.escape = d->second[0];
      seen_escape = true;
    } else if (d->first == "syntax") {
      if (seen_syntax)
        return std::unexpected(
            InstructionError(df.name, line_no, "only one syntax parser directive can be used"));
      df.syntax = d->second;
      seen_syntax = true;
    }
    // Other directive names ("check", unknown ones) are comments.
  }

  std::optional<int> first_from;
  for (; i < lines.size(); ++i) {
    if (IsComment(lines[i])) continue;
    std::string line(TrimLeft(lines[i]));
    int start = static_cast<int>(i) + 1;
    bool more = TrimContinuation(line, df.escape);
    if (!more && Trim(line).empty()) continue;
    while (more && i + 1 < lines.size()) {
      ++i;
      if (IsComment(lines[i])) continue;
      std::string next = lines[i];
      if (Trim(next).empty()) continue;  // blank line inside a continuation
      more = TrimContinuation(next, df.escape);
      line += next;
    }
    if (Trim(line).empty()) continue;
    Instruction ins = TRY(ParseInstruction(line, df.escape, start, df.name));
    if (ins.keyword == "FROM" && !first_from) first_from = start;
    if (!first_from && ins.keyword != "ARG")
      return std::unexpected(InstructionError(
          df.name, start, ins.keyword + " before the first FROM: only ARG may come before FROM"));
    df.instructions.push_back(std::move(ins));
  }
  if (df.instructions.empty())
    return std::unexpected(Error::Invalid(df.name + ": the file has no instructions"));
  if (!first_from)
    return std::unexpected(Error::Invalid(df.name +
                                          ": no FROM instruction: a build needs a base (FROM scratch "
                                          "for an empty one)"));
  return df;
}

}  // namespace moor::build
