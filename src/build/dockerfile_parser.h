// Dockerfile syntax: lines → instructions (keyword, flags, arguments, line).
//
// What the parser does, as Docker's does:
// - parser directives (`# syntax=…`, `# escape=\` or `` ` ``) only before the
//   first comment, blank line or instruction; unknown directives are comments;
// - comment lines (first non-blank char '#') are dropped, also inside a
//   continued instruction; a line ending in the escape char (trailing blanks
//   allowed) continues on the next line, blank lines inside are skipped;
// - keywords are case-insensitive; leading `--name[=value]` words are flags,
//   checked against what the instruction accepts;
// - RUN, CMD, ENTRYPOINT, SHELL, COPY, ADD, VOLUME and HEALTHCHECK CMD take a
//   JSON array (exec form) when the arguments parse as one, else shell form.
// Refused with "Dockerfile:LINE: …": unknown instructions, heredocs, RUN
// --mount/--security, unknown flags, malformed arguments. MAINTAINER is
// accepted (it becomes LABEL maintainer=… and the image's author).
// Variable expansion happens later, per stage (see shell_words.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "build/shell_words.h"
#include "common/error.h"

namespace moor::build {

struct Flag {
  std::string name;  // without "--"
  std::string value;
  bool has_value = false;  // "--link" vs "--link=true"
};

struct Instruction {
  std::string keyword;   // upper case: "FROM", "RUN", …
  int line = 0;          // first line of the instruction (1-based)
  std::string original;  // "RUN echo hi" as written, continuations joined
  std::vector<Flag> flags;
  std::string args;  // text after the flags, trimmed
  // Exec form: the JSON array, for the instructions that accept one.
  std::optional<std::vector<std::string>> json;
  // ONBUILD: the trigger instruction (exactly one element).
  std::vector<Instruction> trigger;

  const Flag* FindFlag(std::string_view name) const;
};

struct Dockerfile {
  std::string name = "Dockerfile";  // for messages: "<name>:LINE: …"
  char escape = '\\';
  std::string syntax;  // "# syntax=" directive, informational
  std::vector<Instruction> instructions;
};

Result<Dockerfile> ParseDockerfile(std::string_view text, std::string name = "Dockerfile");

// Parses one instruction line (no continuations), as ONBUILD triggers stored in
// an image config are; `line` is used for messages.
Result<Instruction> ParseInstruction(std::string_view text, char escape, int line, const std::string& name);

// ENV / LABEL arguments as raw (unexpanded, quotes kept) name/value pairs:
// "a=1 b='x y'" or the legacy "NAME value with spaces". Errors without file:line.
Result<std::vector<std::pair<std::string, std::string>>> ParseKeyValues(std::string_view args, char escape,
                                                                        std::string_view keyword);

// "Dockerfile:12: message".
Error InstructionError(const std::string& file, int line, std::string_view message);

}  // namespace moor::build
