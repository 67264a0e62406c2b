#include "build/shell_words.h"

#include <cctype>

namespace moor::build {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsNameStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// Accumulates words: unquoted whitespace ends a word, quoted text never does.
class WordList {
 public:
  void Add(char c) {
    if (IsSpace(c)) {
      End();
    } else {
      Raw(c);
    }
  }
  void Add(std::string_view s) {
    for (char c : s) Add(c);
  }
  void Raw(char c) {
    word_ += c;
    in_word_ = true;
  }
  void Raw(std::string_view s) {
    word_ += s;
    in_word_ = true;
  }
  void End() {
    if (in_word_) words_.push_back(std::move(word_));
    word_.clear();
    in_word_ = false;
  }
  std::vector<std::string> Take() {
    End();
    return std::move(words_);
  }

 private:
  std::string word_;
  bool in_word_ = false;
  std::vector<std::string> words_;
};

class Lexer {
 public:
  Lexer(std::string_view text, const VarMap& vars, char escape, std::set<std::string>& used)
      : s_(text), vars_(vars), escape_(escape), used_(used) {}

  // split: unquoted whitespace separates words; else everything is one word.
  Result<std::vector<std::string>> Run(bool split) {
    WordList out;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == escape_) {
        if (pos_ >= s_.size()) break;  // a trailing escape is dropped
        out.Raw(s_[pos_++]);
      } else if (c == '\'') {
        out.Raw(TRY(SingleQuoted()));
      } else if (c == '"') {
        out.Raw(TRY(DoubleQuoted()));
      } else if (c == '$') {
        std::string value = TRY(Dollar());
        if (split) {
          out.Add(value);
        } else {
          out.Raw(value);
        }
      } else if (split) {
        out.Add(c);
      } else {
        out.Raw(c);
      }
    }
    return out.Take();
  }

 private:
  Result<std::string> SingleQuoted() {
    size_t end = s_.find('\'', pos_);
    if (end == std::string_view::npos)
      return FailInvalid("unexpected end of statement while looking for matching single-quote");
    std::string v(s_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return v;
  }

  Result<std::string> DoubleQuoted() {
    std::string v;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return v;
      if (c == '$') {
        v += TRY(Dollar());
      } else if (c == escape_ && pos_ < s_.size() &&
                 (s_[pos_] == '"' || s_[pos_] == '$' || s_[pos_] == escape_)) {
        v += s_[pos_++];
      } else {
        v += c;
      }
    }
    return FailInvalid("unexpected end of statement while looking for matching double-quote");
  }

  std::optional<std::string> Lookup(const std::string& name) {
    used_.insert(name);
    auto it = vars_.find(name);
    if (it == vars_.end()) return std::nullopt;
    return it->second;
  }

  // After '$'.
  Result<std::string> Dollar() {
    if (pos_ >= s_.size()) return std::string("$");
    if (s_[pos_] == '{') {
      ++pos_;
      return Braced();
    }
    if (std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
      // $1 …: positional parameters do not exist here; Docker expands them to "".
      ++pos_;
      return std::string();
    }
    if (!IsNameStart(s_[pos_])) return std::string("$");
    size_t start = pos_;
    while (pos_ < s_.size() && IsNameChar(s_[pos_])) ++pos_;
    return Lookup(std::string(s_.substr(start, pos_ - start))).value_or("");
  }

  // After "${".
  Result<std::string> Braced() {
    size_t start = pos_;
    while (pos_ < s_.size() && IsNameChar(s_[pos_])) ++pos_;
    std::string name(s_.substr(start, pos_ - start));
    if (name.empty() || !IsNameStart(name[0]) || pos_ >= s_.size())
      return FailInvalid("bad substitution: ${" + std::string(s_.substr(start, pos_ - start)) + "…");
    char c = s_[pos_++];
    if (c == '}') return Lookup(name).value_or("");
    bool colon = false;
    if (c == ':') {
      if (pos_ >= s_.size()) return FailInvalid("bad substitution: ${" + name + ":");
      colon = true;
      c = s_[pos_++];
    }
    if (c != '-' && c != '+' && c != '?')
      return FailInvalid("unsupported modifier (" + std::string(1, c) + ") in substitution ${" + name +
                         "…}: use ${" + name + ":-default} or ${" + name + ":+alternative}");
    std::string word = TRY(Operand());
    std::optional<std::string> value = Lookup(name);
    bool set = value.has_value() && (!colon || !value->empty());
    switch (c) {
      case '-':
        return set ? *value : word;
      case '+':
        return set ? word : std::string();
      default:  // '?'
        if (!set) return FailInvalid(name + ": " + (word.empty() ? "is not allowed to be unset" : word));
        return *value;
    }
  }

  // The word inside ${NAME:-word}: expanded (nested ${…} and quotes), up to '}'.
  Result<std::string> Operand() {
    std::string v;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '}') return v;
      if (c == escape_ && pos_ < s_.size()) {
        v += s_[pos_++];
      } else if (c == '\'') {
        v += TRY(SingleQuoted());
      } else if (c == '"') {
        v += TRY(DoubleQuoted());
      } else if (c == '$') {
        v += TRY(Dollar());
      } else {
        v += c;
      }
    }
    return FailInvalid("syntax error: missing '}'");
  }

  std::string_view s_;
  size_t pos_ = 0;
  const VarMap& vars_;
  char escape_;
  std::set<std::string>& used_;
};

}  // namespace

Result<std::string> WordExpander::Word(std::string_view text) {
  auto words = TRY(Lexer(text, vars_, escape_, used_).Run(false));
  return words.empty() ? std::string() : std::move(words[0]);
}

Result<std::vector<std::string>> WordExpander::Words(std::string_view text) {
  return Lexer(text, vars_, escape_, used_).Run(true);
}

std::vector<std::string> SplitKeepingQuotes(std::string_view text, char escape) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote == 0 && IsSpace(c)) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    word += c;
    if (c == escape && i + 1 < text.size() && quote != '\'') {
      word += text[++i];
    } else if (quote == 0 && (c == '\'' || c == '"')) {
      quote = c;
    } else if (c == quote) {
      quote = 0;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

}  // namespace moor::build
