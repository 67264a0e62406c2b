// Lexer and parser for the template syntax described in template_engine.h.
// Text and actions are lexed in one pass into tokens carrying their byte
// offset; the recursive-descent parser turns them into tmpl::Tree and checks
// what Go checks at parse time (undefined variables and functions, stray
// end/else), so mistakes surface when a template is added, not on a change.
#include <algorithm>
#include <cctype>
#include <charconv>

#include "discovery/template_ast.h"
#include "discovery/template_engine.h"

namespace moor::discovery {
namespace tmpl {
namespace {

enum class Tok { kText, kLeft, kRight, kIdent, kField, kDot, kVar, kString, kInt, kPipe, kLParen, kRParen,
                 kDeclare, kAssign, kComma, kEof };

struct Token {
  Tok kind;
  std::string text;  // text, identifier, field name, variable, string value
  int64_t number = 0;
  size_t offset = 0;
  bool spaced = false;  // whitespace before it (inside an action)
};

// Byte offset → 1-based line:col.
class Positions {
 public:
  explicit Positions(std::string_view text) {
    starts_.push_back(0);
    for (size_t i = 0; i < text.size(); ++i)
      if (text[i] == '\n') starts_.push_back(i + 1);
  }
  Pos At(size_t offset) const {
    auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
    size_t line = static_cast<size_t>(it - starts_.begin());
    return Pos{static_cast<int>(line), static_cast<int>(offset - starts_[line - 1] + 1)};
  }

 private:
  std::vector<size_t> starts_;
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

class Lexer {
 public:
  Lexer(std::string_view text, const Positions& pos, const std::string& name)
      : s_(text), pos_(pos), name_(name) {}

  Result<std::vector<Token>> Run() {
    bool trim_next = false;
    while (i_ < s_.size()) {
      size_t open = s_.find("{{", i_);
      size_t end = open == std::string_view::npos ? s_.size() : open;
      std::string_view text = s_.substr(i_, end - i_);
      if (trim_next) {
        while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
        trim_next = false;
      }
      size_t text_off = end - text.size();
      if (open == std::string_view::npos) {
        Emit(Tok::kText, std::string(text), text_off);
        break;
      }
      i_ = open + 2;
      bool trim_left = i_ + 1 < s_.size() && s_[i_] == '-' && IsSpace(s_[i_ + 1]);
      if (trim_left) {
        while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
        i_ += 2;
      }
      if (!text.empty()) Emit(Tok::kText, std::string(text), text_off);
      if (s_.substr(i_).starts_with("/*")) {
        TRY(Comment(open, trim_next));
        continue;
      }
      Emit(Tok::kLeft, "", open);
      TRY(Action(open, trim_next));
    }
    Emit(Tok::kEof, "", s_.size());
    return std::move(out_);
  }

 private:
  std::unexpected<Error> Err(size_t off, const std::string& msg) const {
    Pos p = pos_.At(off);
    return FailInvalid(name_ + ":" + std::to_string(p.line) + ":" + std::to_string(p.col) + ": " + msg);
  }
  void Emit(Tok k, std::string text, size_t off, bool spaced = false, int64_t n = 0) {
    out_.push_back(Token{k, std::move(text), n, off, spaced});
  }

  Result<void> Comment(size_t open, bool& trim_next) {
    size_t close = s_.find("*/", i_ + 2);
    if (close == std::string_view::npos) return Err(open, "unclosed comment");
    i_ = close + 2;
    if (s_.substr(i_).starts_with("}}")) {
      i_ += 2;
    } else if (s_.substr(i_).starts_with(" -}}")) {
      i_ += 4;
      trim_next = true;
    } else {
      return Err(open, "comment ends before closing delimiter");
    }
    return {};
  }

  Result<void> Action(size_t open, bool& trim_next) {
    for (;;) {
      bool spaced = false;
      while (i_ < s_.size() && IsSpace(s_[i_])) {
        ++i_;
        spaced = true;
      }
      if (i_ >= s_.size()) return Err(open, "unclosed action");
      std::string_view rest = s_.substr(i_);
      size_t at = i_;
      char c = rest[0];
      if (rest.starts_with("}}")) {
        i_ += 2;
        Emit(Tok::kRight, "", at);
        return {};
      }
      if (spaced && rest.starts_with("-}}")) {
        i_ += 3;
        trim_next = true;
        Emit(Tok::kRight, "", at);
        return {};
      }
      if (c == '|') {
        ++i_;
        Emit(Tok::kPipe, "", at, spaced);
      } else if (c == '(') {
        ++i_;
        Emit(Tok::kLParen, "", at, spaced);
      } else if (c == ')') {
        ++i_;
        Emit(Tok::kRParen, "", at, spaced);
      } else if (c == ',') {
        ++i_;
        Emit(Tok::kComma, "", at, spaced);
      } else if (rest.starts_with(":=")) {
        i_ += 2;
        Emit(Tok::kDeclare, "", at, spaced);
      } else if (c == '=') {
        ++i_;
        Emit(Tok::kAssign, "", at, spaced);
      } else if (c == '"') {
        TRY(QuotedString(at, spaced));
      } else if (c == '`') {
        size_t close = s_.find('`', i_ + 1);
        if (close == std::string_view::npos) return Err(at, "unterminated raw string");
        Emit(Tok::kString, std::string(s_.substr(i_ + 1, close - i_ - 1)), at, spaced);
        i_ = close + 1;
      } else if (c == '.') {
        size_t j = i_ + 1;
        while (j < s_.size() && IsIdentChar(s_[j])) ++j;
        if (j < s_.size() && j > i_ + 1 && std::isdigit(static_cast<unsigned char>(s_[i_ + 1])))
          return Err(at, "floating-point numbers are not supported");
        if (j == i_ + 1)
          Emit(Tok::kDot, "", at, spaced);
        else
          Emit(Tok::kField, std::string(s_.substr(i_ + 1, j - i_ - 1)), at, spaced);
        i_ = j;
      } else if (c == '$') {
        size_t j = i_ + 1;
        while (j < s_.size() && IsIdentChar(s_[j])) ++j;
        Emit(Tok::kVar, std::string(s_.substr(i_, j - i_)), at, spaced);
        i_ = j;
      } else if (std::isdigit(static_cast<unsigned char>(c)) ||
                 ((c == '-' || c == '+') && rest.size() > 1 && std::isdigit(static_cast<unsigned char>(rest[1])))) {
        TRY(Number(at, spaced));
      } else if (IsIdentChar(c)) {
        size_t j = i_;
        while (j < s_.size() && IsIdentChar(s_[j])) ++j;
        Emit(Tok::kIdent, std::string(s_.substr(i_, j - i_)), at, spaced);
        i_ = j;
      } else if (c == '\'') {
        return Err(at, "character constants are not supported; use a \"string\"");
      } else {
        return Err(at, std::string("unexpected \"") + c + "\" in action");
      }
    }
  }

  Result<void> Number(size_t at, bool spaced) {
    size_t j = i_ + 1;
    while (j < s_.size() && (IsIdentChar(s_[j]) || s_[j] == '.')) ++j;
    std::string_view lit = s_.substr(i_, j - i_);
    i_ = j;
    std::string_view digits = lit;
    bool neg = false;
    if (digits[0] == '-' || digits[0] == '+') {
      neg = digits[0] == '-';
      digits.remove_prefix(1);
    }
    int base = 10;
    if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
      base = 16;
      digits.remove_prefix(2);
    }
    if (digits.find_first_of(".eE") != std::string_view::npos && base == 10)
      return Err(at, "floating-point numbers are not supported");
    int64_t v = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
    if (ec != std::errc() || p != digits.data() + digits.size())
      return Err(at, "bad number syntax: \"" + std::string(lit) + "\"");
    Emit(Tok::kInt, std::string(lit), at, spaced, neg ? -v : v);
    return {};
  }

  Result<void> QuotedString(size_t at, bool spaced) {
    std::string v;
    size_t j = i_ + 1;
    for (;;) {
      if (j >= s_.size() || s_[j] == '\n') return Err(at, "unterminated quoted string");
      char c = s_[j++];
      if (c == '"') break;
      if (c != '\\') {
        v += c;
        continue;
      }
      if (j >= s_.size()) return Err(at, "unterminated quoted string");
      char e = s_[j++];
      switch (e) {
        case 'n': v += '\n'; break;
        case 't': v += '\t'; break;
        case 'r': v += '\r'; break;
        case '\\': v += '\\'; break;
        case '"': v += '"'; break;
        case '\'': v += '\''; break;
        case 'x': {
          unsigned byte = 0;
          auto [p, ec] = std::from_chars(s_.data() + j, s_.data() + std::min(j + 2, s_.size()), byte, 16);
          if (ec != std::errc() || p != s_.data() + j + 2) return Err(at, "bad \\x escape in string");
          v += static_cast<char>(byte);
          j += 2;
          break;
        }
        default:
          return Err(at, std::string("unknown escape \\") + e + " in string");
      }
    }
    Emit(Tok::kString, std::move(v), at, spaced);
    i_ = j;
    return {};
  }

  std::string_view s_;
  const Positions& pos_;
  const std::string& name_;
  size_t i_ = 0;
  std::vector<Token> out_;
};

enum class Stop { kEof, kEnd, kElse };

class Parser {
 public:
  Parser(std::vector<Token> toks, const Positions& pos, const std::string& name)
      : t_(std::move(toks)), pos_(pos), name_(name) {
    vars_.push_back("$");
  }

  Result<std::vector<Node>> Run() {
    std::vector<Node> root;
    Stop stop = TRY(List(root));
    if (stop != Stop::kEof) return Err(last_, stop == Stop::kEnd ? "unexpected {{end}}" : "unexpected {{else}}");
    return root;
  }

 private:
  std::unexpected<Error> Err(size_t off, const std::string& msg) const {
    Pos p = pos_.At(off);
    return FailInvalid(name_ + ":" + std::to_string(p.line) + ":" + std::to_string(p.col) + ": " + msg);
  }
  const Token& Peek(size_t ahead = 0) const { return t_[std::min(k_ + ahead, t_.size() - 1)]; }
  const Token& Next() {
    const Token& t = Peek();
    if (k_ < t_.size() - 1) ++k_;
    return t;
  }
  bool PeekIdent(const char* word) const { return Peek().kind == Tok::kIdent && Peek().text == word; }
  Result<void> ExpectRight(const char* what) {
    if (Peek().kind != Tok::kRight) return Err(Peek().offset, std::string("unexpected token after ") + what);
    Next();
    return {};
  }

  // Parses nodes up to {{end}}, {{else}} (consumed; for else, what follows
  // the keyword is left to the caller) or the end of the text.
  Result<Stop> List(std::vector<Node>& out) {
    for (;;) {
      const Token& t = Next();
      if (t.kind == Tok::kEof) return Stop::kEof;
      if (t.kind == Tok::kText) {
        Node n;
        n.kind = Node::Kind::kText;
        n.text = t.text;
        out.push_back(std::move(n));
        continue;
      }
      // t is kLeft.
      const Token& w = Peek();
      last_ = w.offset;
      if (w.kind == Tok::kIdent) {
        if (w.text == "end") {
          Next();
          TRY(ExpectRight("end"));
          return Stop::kEnd;
        }
        if (w.text == "else") {
          Next();
          return Stop::kElse;
        }
        if (w.text == "if" || w.text == "range" || w.text == "with") {
          out.push_back(TRY(Control()));
          continue;
        }
        if (w.text == "break" || w.text == "continue") {
          if (range_depth_ == 0) return Err(w.offset, "{{" + w.text + "}} outside {{range}}");
          Node n;
          n.kind = w.text == "break" ? Node::Kind::kBreak : Node::Kind::kContinue;
          n.pos = pos_.At(w.offset);
          Next();
          TRY(ExpectRight(w.text == "break" ? "break" : "continue"));
          out.push_back(std::move(n));
          continue;
        }
        if (w.text == "define" || w.text == "template" || w.text == "block")
          return Err(w.offset, "{{" + w.text + "}} is not supported");
      }
      Node n;
      n.kind = Node::Kind::kAction;
      n.pos = pos_.At(w.offset);
      n.pipe = TRY(Pipe(/*max_vars=*/1, Tok::kRight));
      if (n.pipe->cmds.empty()) return Err(w.offset, "missing value for command");
      Next();  // }}
      out.push_back(std::move(n));
    }
  }

  // At the keyword of {{if|range|with …}}.
  Result<Node> Control() {
    const Token& kw = Next();
    Node n;
    n.kind = kw.text == "if" ? Node::Kind::kIf : kw.text == "range" ? Node::Kind::kRange : Node::Kind::kWith;
    n.pos = pos_.At(kw.offset);
    size_t open = kw.offset;
    std::string keyword = kw.text;
    size_t mark = vars_.size();  // variables of the pipeline and body end with the block
    n.pipe = TRY(Pipe(n.kind == Node::Kind::kRange ? 2 : 1, Tok::kRight));
    if (n.pipe->cmds.empty()) return Err(open, "missing value for " + keyword);
    Next();  // }}
    if (n.kind == Node::Kind::kRange) ++range_depth_;
    size_t body_mark = vars_.size();
    Stop stop = TRY(List(n.body));
    vars_.resize(body_mark);
    if (n.kind == Node::Kind::kRange) --range_depth_;
    if (stop == Stop::kElse) {
      bool chained = (n.kind == Node::Kind::kIf && PeekIdent("if")) || (n.kind == Node::Kind::kWith && PeekIdent("with"));
      if (chained) {
        // {{else if …}}: a nested node that consumes the shared {{end}}.
        n.else_body.push_back(TRY(Control()));
        vars_.resize(mark);
        return n;
      }
      TRY(ExpectRight("else"));
      stop = TRY(List(n.else_body));
      vars_.resize(body_mark);
      if (stop == Stop::kElse) return Err(last_, "{{else}} after {{else}} in {{" + keyword + "}}");
    }
    if (stop == Stop::kEof) return Err(open, "unexpected end of template: {{" + keyword + "}} without {{end}}");
    vars_.resize(mark);
    return n;
  }

  // A pipeline up to (not consuming) `until`, with optional declarations.
  Result<std::shared_ptr<Pipeline>> Pipe(int max_vars, Tok until) {
    auto p = std::make_shared<Pipeline>();
    p->pos = pos_.At(Peek().offset);
    // Declarations: "$x :=", "$x =", "$i, $e :=" (range).
    size_t save = k_;
    std::vector<std::string> names;
    while (Peek().kind == Tok::kVar) {
      names.push_back(Peek().text);
      Next();
      if (Peek().kind == Tok::kComma && static_cast<int>(names.size()) < max_vars) {
        Next();
        continue;
      }
      break;
    }
    if (!names.empty() && (Peek().kind == Tok::kDeclare || Peek().kind == Tok::kAssign)) {
      p->declare = Peek().kind == Tok::kDeclare;
      if (!p->declare && names.size() > 1) return Err(Peek().offset, "only := may declare two range variables");
      Next();
      p->vars = names;
    } else {
      k_ = save;
      names.clear();
    }
    for (;;) {
      Command c;
      c.pos = pos_.At(Peek().offset);
      while (Peek().kind != Tok::kPipe && Peek().kind != until && Peek().kind != Tok::kRight &&
             Peek().kind != Tok::kEof) {
        c.args.push_back(TRY(Operand()));
      }
      if (Peek().kind != until) {
        if (Peek().kind == Tok::kEof) return Err(Peek().offset, "unclosed action");
        if (Peek().kind != Tok::kPipe) return Err(Peek().offset, "unexpected token in pipeline");
      }
      if (c.args.empty()) {
        if (Peek().kind == Tok::kPipe || !p->cmds.empty()) return Err(Peek().offset, "missing command in pipeline");
        break;  // empty pipeline: the caller reports it
      }
      p->cmds.push_back(std::move(c));
      if (Peek().kind != Tok::kPipe) break;
      Next();
    }
    // Declared variables are visible after the pipeline (not inside it).
    for (auto& v : p->vars) {
      if (p->declare) {
        vars_.push_back(v);
      } else if (!Defined(v)) {
        return Err(t_[save].offset, "undefined variable \"" + v + "\"");
      }
    }
    return p;
  }

  bool Defined(const std::string& v) const { return std::find(vars_.begin(), vars_.end(), v) != vars_.end(); }

  void Chain(Term& term) {
    while (Peek().kind == Tok::kField && !Peek().spaced) term.fields.push_back(Next().text);
  }

  Result<Term> Operand() {
    const Token& t = Next();
    Term term;
    term.pos = pos_.At(t.offset);
    switch (t.kind) {
      case Tok::kField:
        term.kind = Term::Kind::kField;
        term.fields.push_back(t.text);
        Chain(term);
        return term;
      case Tok::kDot:
        term.kind = Term::Kind::kDot;
        return term;
      case Tok::kVar:
        if (!Defined(t.text)) return Err(t.offset, "undefined variable \"" + t.text + "\"");
        term.kind = Term::Kind::kVariable;
        term.text = t.text;
        Chain(term);
        return term;
      case Tok::kString:
        term.kind = Term::Kind::kString;
        term.text = t.text;
        return term;
      case Tok::kInt:
        term.kind = Term::Kind::kInt;
        term.number = t.number;
        return term;
      case Tok::kLParen: {
        term.kind = Term::Kind::kSub;
        term.sub = TRY(Pipe(1, Tok::kRParen));
        if (term.sub->cmds.empty()) return Err(t.offset, "missing value in parentheses");
        if (Peek().kind != Tok::kRParen) return Err(t.offset, "unclosed left parenthesis");
        Next();
        Chain(term);
        return term;
      }
      case Tok::kIdent:
        if (t.text == "true" || t.text == "false") {
          term.kind = Term::Kind::kBool;
          term.boolean = t.text == "true";
          return term;
        }
        if (t.text == "nil") {
          term.kind = Term::Kind::kNil;
          return term;
        }
        if (!IsFunction(t.text)) return Err(t.offset, "function \"" + t.text + "\" not defined");
        term.kind = Term::Kind::kFunction;
        term.text = t.text;
        return term;
      case Tok::kRParen:
        return Err(t.offset, "unexpected right parenthesis");
      default:
        return Err(t.offset, "unexpected token in operand");
    }
  }

  std::vector<Token> t_;
  const Positions& pos_;
  const std::string& name_;
  size_t k_ = 0;
  size_t last_ = 0;
  int range_depth_ = 0;
  std::vector<std::string> vars_;
};

}  // namespace
}  // namespace tmpl

Result<Template> Template::Parse(std::string name, std::string_view text) {
  tmpl::Positions pos(text);
  auto toks = TRY(tmpl::Lexer(text, pos, name).Run());
  auto tree = std::make_shared<tmpl::Tree>();
  tree->root = TRY(tmpl::Parser(std::move(toks), pos, name).Run());
  tree->name = std::move(name);
  return Template(std::move(tree));
}

const std::string& Template::name() const { return tree_->name; }

}  // namespace moor::discovery
