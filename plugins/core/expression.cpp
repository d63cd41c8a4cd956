// SPDX-License-Identifier: Apache-2.0
// The if_else expression language: lexer, recursive-descent parser and tree evaluator. The whole
// expression is parsed before anything is evaluated, so a syntax error is reported even in a
// branch that short-circuiting would skip.
#include "expression.hpp"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace blueprint::core {

ExpressionError::ExpressionError(std::size_t column, const std::string& message)
    : std::runtime_error("column " + std::to_string(column) + ": " + message), column_(column) {}

bool isTruthy(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return false;
    case Json::value_t::boolean:
      return value.get<bool>();
    case Json::value_t::number_integer:
      return value.get<std::int64_t>() != 0;
    case Json::value_t::number_unsigned:
      return value.get<std::uint64_t>() != 0;
    case Json::value_t::number_float:
      return value.get<double>() != 0.0;
    case Json::value_t::string:
      return !value.get_ref<const std::string&>().empty();
    case Json::value_t::array:
    case Json::value_t::object:
      return !value.empty();
    default:
      return true;
  }
}

namespace {

/// Deeper nesting (parentheses, `not`, `-`) is refused so hostile input cannot exhaust the stack.
constexpr int kMaxNesting = 100;
/// Binary operators per expression: `and`/`or` chains build left-deep trees that evaluation
/// and destruction walk recursively, so their length is bounded too.
constexpr int kMaxOperators = 1000;

enum class TokenKind { Number, String, Name, Template, LParen, RParen, Op, Minus, End };

struct Token {
  TokenKind kind = TokenKind::End;
  std::string text;  ///< operator, name/path, template path, or the source text of a literal
  Json value;        ///< Number and String: the literal's value
  std::size_t offset = 0;
};

/// The JSON type as users of blueprints call it (`list`, not nlohmann's `array`).
std::string typeName(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "number";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "list";
    case Json::value_t::object:
      return "object";
    default:
      return "value";
  }
}

bool isIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isIdentChar(char c) { return isIdentStart(c) || isDigit(c); }
/// Segments after a dot may also hold `-`: block ids (`results.fetch-user`), negative indices.
bool isSegmentChar(char c) { return isIdentChar(c) || c == '-'; }

void appendUtf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  /// 1-based column of a byte offset, counted in UTF-8 characters. The parser asks for
  /// offsets in increasing order, so counting resumes from the last answer: linear in the text
  /// overall (issue 11, L1: rescanning from the start made a 9 MB condition take seconds).
  std::size_t columnOf(std::size_t offset) const {
    offset = std::min(offset, text_.size());
    if (offset < column_offset_) {
      column_offset_ = 0;
      column_ = 1;
    }
    for (; column_offset_ < offset; ++column_offset_)
      if ((static_cast<unsigned char>(text_[column_offset_]) & 0xC0) != 0x80) ++column_;
    return column_;
  }

  [[noreturn]] void fail(std::size_t offset, const std::string& message) const {
    throw ExpressionError(columnOf(offset), message);
  }

  Token next() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
    Token t;
    t.offset = pos_;
    if (pos_ >= text_.size()) return t;
    const char c = text_[pos_];
    if (c == '(' || c == ')') {
      t.kind = c == '(' ? TokenKind::LParen : TokenKind::RParen;
      t.text = std::string(1, c);
      ++pos_;
      return t;
    }
    if (c == '-') {
      t.kind = TokenKind::Minus;
      t.text = "-";
      ++pos_;
      return t;
    }
    if (c == '=' || c == '!' || c == '<' || c == '>') {
      const bool has_eq = pos_ + 1 < text_.size() && text_[pos_ + 1] == '=';
      if ((c == '=' || c == '!') && !has_eq)
        fail(pos_, c == '=' ? "expected '==' (comparison), found '='"
                            : "expected '!=', found '!' (use 'not' for negation)");
      t.kind = TokenKind::Op;
      t.text = has_eq ? std::string{c, '='} : std::string(1, c);
      pos_ += t.text.size();
      return t;
    }
    if (c == '"' || c == '\'') return string(t);
    if (isDigit(c)) return number(t);
    if (c == '@' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '{') {
      const std::size_t close = text_.find('}', pos_ + 2);
      if (close == std::string_view::npos)
        fail(text_.size(),
             "expected '}' closing the '@{' at column " + std::to_string(columnOf(pos_)));
      std::string path(text_.substr(pos_ + 2, close - pos_ - 2));
      const auto first = path.find_first_not_of(" \t");
      const auto last = path.find_last_not_of(" \t");
      path = first == std::string::npos ? std::string() : path.substr(first, last - first + 1);
      if (path.empty()) fail(pos_ + 2, "expected a path inside '@{}'");
      t.kind = TokenKind::Template;
      t.text = std::move(path);
      pos_ = close + 1;
      return t;
    }
    if (isIdentStart(c)) {
      const std::size_t start = pos_;
      while (pos_ < text_.size() && isIdentChar(text_[pos_])) ++pos_;
      while (pos_ + 1 < text_.size() && text_[pos_] == '.' && isSegmentChar(text_[pos_ + 1])) {
        ++pos_;
        while (pos_ < text_.size() && isSegmentChar(text_[pos_])) ++pos_;
      }
      if (pos_ < text_.size() && text_[pos_] == '.')
        fail(pos_ + 1, "expected a path segment after '.'");
      t.kind = TokenKind::Name;
      t.text = std::string(text_.substr(start, pos_ - start));
      return t;
    }
    std::size_t len = 1;
    while (pos_ + len < text_.size() &&
           (static_cast<unsigned char>(text_[pos_ + len]) & 0xC0) == 0x80)
      ++len;
    fail(pos_, "unexpected character '" + std::string(text_.substr(pos_, len)) + "'");
  }

 private:
  /// columnOf's last answer: the column at byte offset column_offset_.
  mutable std::size_t column_offset_ = 0;
  mutable std::size_t column_ = 1;
  Token number(Token& t) {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && isDigit(text_[pos_])) ++pos_;
    if (pos_ + 1 < text_.size() && text_[pos_] == '.' && isDigit(text_[pos_ + 1])) {
      ++pos_;
      while (pos_ < text_.size() && isDigit(text_[pos_])) ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      std::size_t p = pos_ + 1;
      if (p < text_.size() && (text_[p] == '+' || text_[p] == '-')) ++p;
      if (p < text_.size() && isDigit(text_[p])) {
        pos_ = p;
        while (pos_ < text_.size() && isDigit(text_[pos_])) ++pos_;
      }
    }
    t.kind = TokenKind::Number;
    t.text = std::string(text_.substr(start, pos_ - start));
    // JSON's number grammar (locale-independent); it refuses leading zeros, as Python 3 does.
    t.value = Json::parse(t.text, nullptr, false);
    if (t.value.is_discarded() || !t.value.is_number())
      fail(start, "invalid number '" + t.text + "'");
    return t;
  }

  Token string(Token& t) {
    const char quote = text_[pos_];
    const std::size_t start = pos_++;
    std::string out;
    for (;;) {
      if (pos_ >= text_.size())
        fail(text_.size(), std::string("expected ") + quote + " closing the string at column " +
                               std::to_string(columnOf(start)));
      const char c = text_[pos_++];
      if (c == quote) break;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) continue;  // reported as unterminated on the next turn
      const char e = text_[pos_++];
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case '0':
          out += '\0';
          break;
        case '\\':
        case '\'':
        case '"':
        case '/':
          out += e;
          break;
        case 'x':
        case 'u': {
          const std::size_t digits = e == 'x' ? 2 : 4;
          std::uint32_t cp = readHex(pos_, digits, e);
          if (e == 'u' && cp >= 0xD800 && cp <= 0xDBFF && pos_ + 1 < text_.size() &&
              text_[pos_] == '\\' && text_[pos_ + 1] == 'u') {
            const std::size_t save = pos_;
            pos_ += 2;
            const std::uint32_t low = readHex(pos_, 4, 'u');
            if (low >= 0xDC00 && low <= 0xDFFF)
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            else
              pos_ = save;
          }
          if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;  // a lone surrogate is not UTF-8
          appendUtf8(out, cp);
          break;
        }
        default:
          out += '\\';
          out += e;
          break;
      }
    }
    t.kind = TokenKind::String;
    t.text = std::string(text_.substr(start, pos_ - start));
    t.value = std::move(out);
    return t;
  }

  std::uint32_t readHex(std::size_t& pos, std::size_t digits, char escape) {
    std::uint32_t cp = 0;
    for (std::size_t i = 0; i < digits; ++i) {
      const int h = pos < text_.size() ? hexValue(text_[pos]) : -1;
      if (h < 0)
        fail(pos, "expected " + std::to_string(digits) + " hex digits after '\\" +
                      std::string(1, escape) + "'");
      cp = cp * 16 + static_cast<std::uint32_t>(h);
      ++pos;
    }
    return cp;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

enum class NodeKind { Literal, Path, Not, Neg, And, Or, Compare };

}  // namespace

struct Expression::Node {
  NodeKind kind = NodeKind::Literal;
  Json value;        ///< Literal
  std::string path;  ///< Path
  std::vector<std::shared_ptr<const Node>> operands;
  std::vector<std::string> ops;         ///< Compare: operator between operands i and i+1
  std::vector<std::size_t> op_columns;  ///< Compare: their columns; Neg: [column of '-']
};

namespace {

using Node = Expression::Node;
using NodePtr = std::shared_ptr<const Node>;

const char* const kValueExpected =
    "expected a value (a number, a string, true/false/null, a path, '@{…}' or '(')";

class Parser {
 public:
  explicit Parser(std::string_view text) : lexer_(text) { advance(); }

  NodePtr parse() {
    NodePtr root = orExpr();
    if (current_.kind != TokenKind::End)
      lexer_.fail(current_.offset,
                  "expected an operator (== != < <= > >= in, not in, and, or) or the end, found " +
                      describe(current_));
    return root;
  }

 private:
  void advance() { current_ = lexer_.next(); }

  bool isKeyword(const Token& t, const char* word) const {
    return t.kind == TokenKind::Name && t.text == word;
  }

  static std::string describe(const Token& t) {
    if (t.kind == TokenKind::End) return "the end of the expression";
    return "'" + t.text + "'";
  }

  void enter(std::size_t offset) {
    if (++depth_ > kMaxNesting)
      lexer_.fail(offset,
                  "expression nests deeper than " + std::to_string(kMaxNesting) + " levels");
  }

  void countOperator(std::size_t offset) {
    if (++operators_ > kMaxOperators)
      lexer_.fail(offset,
                  "expression has more than " + std::to_string(kMaxOperators) + " operators");
  }

  NodePtr binary(NodeKind kind, NodePtr left, NodePtr right) {
    auto n = std::make_shared<Node>();
    n->kind = kind;
    n->operands = {std::move(left), std::move(right)};
    return n;
  }

  NodePtr orExpr() {
    NodePtr left = andExpr();
    while (isKeyword(current_, "or")) {
      countOperator(current_.offset);
      advance();
      left = binary(NodeKind::Or, std::move(left), andExpr());
    }
    return left;
  }

  NodePtr andExpr() {
    NodePtr left = notExpr();
    while (isKeyword(current_, "and")) {
      countOperator(current_.offset);
      advance();
      left = binary(NodeKind::And, std::move(left), notExpr());
    }
    return left;
  }

  NodePtr notExpr() {
    if (!isKeyword(current_, "not")) return comparison();
    enter(current_.offset);
    advance();
    auto n = std::make_shared<Node>();
    n->kind = NodeKind::Not;
    n->operands = {notExpr()};
    --depth_;
    return n;
  }

  /// The comparison operator at the current token, consumed; empty when there is none.
  std::string comparisonOp(std::size_t& column) {
    column = lexer_.columnOf(current_.offset);
    if (current_.kind == TokenKind::Op || isKeyword(current_, "in") || isKeyword(current_, "not"))
      countOperator(current_.offset);
    if (current_.kind == TokenKind::Op) {
      std::string op = current_.text;
      advance();
      return op;
    }
    if (isKeyword(current_, "in")) {
      advance();
      return "in";
    }
    if (isKeyword(current_, "not")) {
      advance();
      if (!isKeyword(current_, "in"))
        lexer_.fail(current_.offset, "expected 'in' after 'not', found " + describe(current_));
      advance();
      return "not in";
    }
    return {};
  }

  NodePtr comparison() {
    NodePtr first = unary();
    std::size_t column = 0;
    std::string op = comparisonOp(column);
    if (op.empty()) return first;
    auto n = std::make_shared<Node>();
    n->kind = NodeKind::Compare;
    n->operands.push_back(std::move(first));
    while (!op.empty()) {
      n->ops.push_back(op);
      n->op_columns.push_back(column);
      n->operands.push_back(unary());
      op = comparisonOp(column);
    }
    return n;
  }

  NodePtr unary() {
    if (current_.kind != TokenKind::Minus) return primary();
    enter(current_.offset);
    auto n = std::make_shared<Node>();
    n->kind = NodeKind::Neg;
    n->op_columns = {lexer_.columnOf(current_.offset)};
    advance();
    n->operands = {unary()};
    --depth_;
    return n;
  }

  NodePtr primary() {
    auto n = std::make_shared<Node>();
    switch (current_.kind) {
      case TokenKind::Number:
      case TokenKind::String:
        n->value = current_.value;
        advance();
        return n;
      case TokenKind::Template:
        n->kind = NodeKind::Path;
        n->path = current_.text;
        advance();
        return n;
      case TokenKind::LParen: {
        enter(current_.offset);
        advance();
        NodePtr inner = orExpr();
        if (current_.kind != TokenKind::RParen)
          lexer_.fail(current_.offset, "expected ')', found " + describe(current_));
        advance();
        --depth_;
        return inner;
      }
      case TokenKind::Name: {
        const std::string& w = current_.text;
        if (w == "and" || w == "or" || w == "not" || w == "in") break;
        if (w == "true" || w == "True")
          n->value = true;
        else if (w == "false" || w == "False")
          n->value = false;
        else if (w == "null" || w == "None")
          n->value = nullptr;
        else {
          n->kind = NodeKind::Path;
          n->path = w;
        }
        advance();
        return n;
      }
      default:
        break;
    }
    lexer_.fail(current_.offset, std::string(kValueExpected) + ", found " + describe(current_));
  }

  Lexer lexer_;
  Token current_;
  int depth_ = 0;
  int operators_ = 0;
};

// ---- evaluation ----

/// Exact for every JSON number: long double holds int64, uint64 and double without rounding on
/// x86-64 (80-bit) and AArch64 (128-bit).
long double numeric(const Json& v) {
  if (v.is_number_unsigned()) return static_cast<long double>(v.get<std::uint64_t>());
  if (v.is_number_integer()) return static_cast<long double>(v.get<std::int64_t>());
  return static_cast<long double>(v.get<double>());
}

bool contains(const Json& needle, const Json& haystack, std::size_t column, const char* op) {
  if (haystack.is_string()) {
    if (!needle.is_string())
      throw ExpressionError(
          column,
          std::string("'") + op + " <string>' needs a string on the left, got " + typeName(needle));
    return haystack.get_ref<const std::string&>().find(needle.get_ref<const std::string&>()) !=
           std::string::npos;
  }
  if (haystack.is_array()) {
    for (const Json& element : haystack)
      if (element == needle) return true;
    return false;
  }
  if (haystack.is_object())
    return needle.is_string() && haystack.contains(needle.get_ref<const std::string&>());
  throw ExpressionError(column, std::string("'") + op +
                                    "' needs a string, list or object on the right, got " +
                                    typeName(haystack));
}

bool compare(const std::string& op, const Json& a, const Json& b, std::size_t column) {
  if (op == "==") return a == b;
  if (op == "!=") return !(a == b);
  if (op == "in") return contains(a, b, column, "in");
  if (op == "not in") return !contains(a, b, column, "not in");
  int order = 0;
  if (a.is_number() && b.is_number()) {
    const long double x = numeric(a), y = numeric(b);
    if (x != x || y != y) return false;  // NaN cannot come from JSON, but stay total
    order = x < y ? -1 : x > y ? 1 : 0;
  } else if (a.is_string() && b.is_string()) {
    const int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
    order = c < 0 ? -1 : c > 0 ? 1 : 0;
  } else {
    throw ExpressionError(column, "'" + op + "' needs two numbers or two strings, got " +
                                      typeName(a) + " and " + typeName(b));
  }
  if (op == "<") return order < 0;
  if (op == "<=") return order <= 0;
  if (op == ">") return order > 0;
  return order >= 0;  // ">="
}

Json eval(const Node& n, const PathResolver& resolve) {
  switch (n.kind) {
    case NodeKind::Literal:
      return n.value;
    case NodeKind::Path:
      return resolve(n.path);
    case NodeKind::Not:
      return !isTruthy(eval(*n.operands[0], resolve));
    case NodeKind::Neg: {
      Json v = eval(*n.operands[0], resolve);
      if (!v.is_number())
        throw ExpressionError(n.op_columns[0], "'-' needs a number, got " + typeName(v));
      if (v.is_number_float()) return -v.get<double>();
      const long double negated = -numeric(v);
      if (negated >= static_cast<long double>(INT64_MIN) &&
          negated <= static_cast<long double>(INT64_MAX))
        return static_cast<std::int64_t>(negated);
      return static_cast<double>(negated);
    }
    case NodeKind::And:
      return isTruthy(eval(*n.operands[0], resolve)) && isTruthy(eval(*n.operands[1], resolve));
    case NodeKind::Or:
      return isTruthy(eval(*n.operands[0], resolve)) || isTruthy(eval(*n.operands[1], resolve));
    case NodeKind::Compare: {
      // Chained like Python: a < b < c is (a < b) and (b < c), each operand evaluated once.
      Json left = eval(*n.operands[0], resolve);
      for (std::size_t i = 0; i < n.ops.size(); ++i) {
        Json right = eval(*n.operands[i + 1], resolve);
        if (!compare(n.ops[i], left, right, n.op_columns[i])) return false;
        left = std::move(right);
      }
      return true;
    }
  }
  return nullptr;
}

}  // namespace

Expression Expression::parse(std::string_view text) {
  Parser parser(text);
  return Expression(parser.parse());
}

Json Expression::evaluate(const PathResolver& resolve) const { return eval(*root_, resolve); }

}  // namespace blueprint::core
