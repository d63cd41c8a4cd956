// SPDX-License-Identifier: Apache-2.0
// template.cpp: compiles `@{path}` field values into literal/path pieces once, so rendering per
// run only looks values up and concatenates.
#include "blueprint/template.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <utility>

namespace blueprint::host {

namespace {

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && isSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && isSpace(text.back())) text.remove_suffix(1);
  return text;
}

/// Parses a list index segment: an optional leading '-' followed by one or more ASCII digits,
/// nothing else. So "+1", " 1", "1e2" and "" are not indices (null on a list); "01" is 1 (leading
/// zeros are harmless and rejecting them would only turn a readable path into a silent null);
/// "-0" is "0 from the end", i.e. one past the last element, which is always out of range.
/// Returns false when the segment is not an index or does not fit.
bool parseIndex(const std::string& segment, bool& negative, std::size_t& magnitude) {
  const char* first = segment.data();
  const char* last = first + segment.size();
  negative = first != last && *first == '-';
  if (negative) ++first;
  if (first == last) return false;
  for (const char* p = first; p != last; ++p) {
    if (*p < '0' || *p > '9') return false;
  }
  const auto [end, ec] = std::from_chars(first, last, magnitude);
  return ec == std::errc() && end == last;
}

/// Compact JSON that never throws: invalid UTF-8 inside strings becomes U+FFFD instead of the
/// type_error nlohmann raises by default, because a bad byte in a payload must not abort a run.
void dumpInto(std::string& out, const Json& value) {
  out += value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

/// Appends `text` escaped for the inside of a JSON string literal (no surrounding quotes).
void appendJsonEscaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          const auto byte = static_cast<unsigned char>(c);
          out += "\\u00";
          out += kHex[byte >> 4];
          out += kHex[byte & 0x0f];
        } else {
          out += c;
        }
    }
  }
}

/// nlohmann's parse_error::what() reads "[json.exception.parse_error.101] parse error at line 1,
/// column 9: syntax error …; last read: '…'". Keep the position and the problem, drop the
/// exception id and the "last read" excerpt: the excerpt can contain inserted values (payload
/// fields, `$NAME` variables) that do not belong in an error message that ends up in run logs.
std::string briefParseError(const std::string& what) {
  std::string_view text(what);
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find("] ");
    if (close != std::string_view::npos) text.remove_prefix(close + 2);
  }
  const auto last_read = text.find("; last read");
  if (last_read != std::string_view::npos) text = text.substr(0, last_read);
  return "template value is not valid JSON: " + std::string(text);
}

/// How a piece of a compiled string contributes to the output.
enum class PieceKind : std::uint8_t {
  Literal,     ///< `literal` as is.
  Text,        ///< Text mode: strings as they are, other values as compact JSON.
  JsonString,  ///< Json mode, inside a string literal: the text form, JSON-string-escaped.
  JsonValue,   ///< Json mode, where a value stands: the value as a JSON literal.
};

struct Piece {
  PieceKind kind;
  std::string literal;  ///< Literal pieces only.
  Path path;            ///< Every other kind.
};

struct Node {
  enum class Kind : std::uint8_t {
    Constant,     ///< `constant` every time.
    FullMatch,    ///< Exactly one template: the looked-up value keeps its JSON type.
    Interpolate,  ///< Text mode string with templates: concatenate `pieces`.
    JsonText,     ///< Json mode string with templates: concatenate `pieces`, then parse.
    Invalid,      ///< Json mode string without templates that does not parse: throw `error`.
    Object,       ///< Render `members` (at least one is not constant).
    Array,        ///< Render `items` (at least one is not constant).
  };
  Kind kind = Kind::Constant;
  Json constant;
  Path path;
  std::vector<Piece> pieces;
  std::size_t literal_size = 0;  ///< Sum of literal lengths, to reserve the output once.
  std::string error;
  std::vector<std::pair<std::string, Node>> members;
  std::vector<Node> items;
};

/// Appends a literal to the last piece when that is a literal too, so rendering concatenates as
/// few pieces as possible.
void addLiteral(std::vector<Piece>& pieces, std::string_view text) {
  if (text.empty()) return;
  if (pieces.empty() || pieces.back().kind != PieceKind::Literal) {
    pieces.push_back(Piece{PieceKind::Literal, std::string(), Path()});
  }
  pieces.back().literal.append(text);
}

/// Splits a Text-mode string into pieces. `\@{` is a literal `@{`; an `@{` without a closing `}`
/// and an empty `@{ }` are literal text. Other backslashes are ordinary characters.
std::vector<Piece> splitText(const std::string& s) {
  std::vector<Piece> pieces;
  const std::size_t n = s.size();
  std::size_t literal_start = 0;
  std::size_t i = 0;
  while (i < n) {
    if (s[i] == '\\' && s.compare(i + 1, 2, "@{") == 0) {
      addLiteral(pieces, std::string_view(s).substr(literal_start, i - literal_start));
      addLiteral(pieces, "@{");
      i += 3;
      literal_start = i;
      continue;
    }
    if (s[i] == '@' && i + 1 < n && s[i + 1] == '{') {
      const auto close = s.find('}', i + 2);
      if (close == std::string::npos) break;  // The rest is literal text.
      const auto inner = std::string_view(s).substr(i + 2, close - i - 2);
      if (trim(inner).empty()) {
        i = close + 1;  // Stays part of the pending literal.
        continue;
      }
      addLiteral(pieces, std::string_view(s).substr(literal_start, i - literal_start));
      pieces.push_back(Piece{PieceKind::Text, std::string(), parsePath(inner)});
      i = close + 1;
      literal_start = i;
      continue;
    }
    ++i;
  }
  addLiteral(pieces, std::string_view(s).substr(literal_start));
  return pieces;
}

/// Splits a Json-mode string (JSON text with templates) into pieces. It tracks whether each
/// position is inside a JSON string literal so a template there becomes JsonString and elsewhere
/// JsonValue. Inside a string a backslash starts a JSON escape pair (`\\`, `\"`, …) except in
/// `\@{`, which is the template escape as in Text mode; so `"\\@{x}"` is an escaped backslash
/// followed by a template.
std::vector<Piece> splitJson(const std::string& s) {
  std::vector<Piece> pieces;
  const std::size_t n = s.size();
  std::size_t literal_start = 0;
  std::size_t i = 0;
  bool in_string = false;
  while (i < n) {
    const char c = s[i];
    if (c == '\\') {
      if (s.compare(i + 1, 2, "@{") == 0) {
        addLiteral(pieces, std::string_view(s).substr(literal_start, i - literal_start));
        addLiteral(pieces, "@{");
        i += 3;
        literal_start = i;
      } else {
        // Outside a string a backslash is invalid JSON anyway; the parser reports it.
        i += in_string ? 2 : 1;
      }
      continue;
    }
    if (c == '@' && i + 1 < n && s[i + 1] == '{') {
      const auto close = s.find('}', i + 2);
      if (close == std::string::npos) break;
      const auto inner = std::string_view(s).substr(i + 2, close - i - 2);
      if (trim(inner).empty()) {
        i = close + 1;
        continue;
      }
      addLiteral(pieces, std::string_view(s).substr(literal_start, i - literal_start));
      pieces.push_back(Piece{in_string ? PieceKind::JsonString : PieceKind::JsonValue,
                             std::string(), parsePath(inner)});
      i = close + 1;
      literal_start = i;
      continue;
    }
    if (c == '"') in_string = !in_string;
    ++i;
  }
  addLiteral(pieces, std::string_view(s).substr(std::min(literal_start, n)));
  return pieces;
}

bool hasTemplate(const std::vector<Piece>& pieces) {
  for (const auto& piece : pieces) {
    if (piece.kind != PieceKind::Literal) return true;
  }
  return false;
}

std::size_t literalSize(const std::vector<Piece>& pieces) {
  std::size_t size = 0;
  for (const auto& piece : pieces) size += piece.literal.size();
  return size;
}

Json parseJsonText(const std::string& text) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    // parse_error, and out_of_range for a number too large for a double (`1E999`).
    throw TemplateError(briefParseError(e.what()));
  }
}

Node compileNode(const Json& value, Template::Mode mode, bool top_level);

Node compileTextString(const std::string& s) {
  Node node;
  auto pieces = splitText(s);
  if (!hasTemplate(pieces)) {
    node.constant = pieces.empty() ? std::string() : std::move(pieces.front().literal);
    return node;
  }
  if (pieces.size() == 1) {
    node.kind = Node::Kind::FullMatch;
    node.path = std::move(pieces.front().path);
    return node;
  }
  node.kind = Node::Kind::Interpolate;
  node.literal_size = literalSize(pieces);
  node.pieces = std::move(pieces);
  return node;
}

Node compileJsonString(const std::string& s) {
  Node node;
  auto pieces = splitJson(s);
  if (!hasTemplate(pieces)) {
    // Parse once now; a broken constant keeps failing at render, because compile never throws.
    const std::string text = pieces.empty() ? std::string() : std::move(pieces.front().literal);
    try {
      node.constant = parseJsonText(text);
    } catch (const TemplateError& e) {
      node.kind = Node::Kind::Invalid;
      node.error = e.what();
    }
    return node;
  }
  // One value template with only whitespace around it parses back to the looked-up value, so
  // skip the dump/parse round trip.
  std::size_t value_templates = 0;
  bool only_whitespace = true;
  const Path* value_path = nullptr;
  for (const auto& piece : pieces) {
    if (piece.kind == PieceKind::JsonValue) {
      ++value_templates;
      value_path = &piece.path;
    } else if (piece.kind == PieceKind::Literal) {
      only_whitespace = only_whitespace && trim(piece.literal).empty();
    } else {
      only_whitespace = false;
    }
  }
  if (value_templates == 1 && only_whitespace) {
    node.kind = Node::Kind::FullMatch;
    node.path = *value_path;
    return node;
  }
  node.kind = Node::Kind::JsonText;
  node.literal_size = literalSize(pieces);
  node.pieces = std::move(pieces);
  return node;
}

Node compileNode(const Json& value, Template::Mode mode, bool top_level) {
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    // Only the field value itself is JSON text; strings inside an object/list literal are leaves.
    return mode == Template::Mode::Json && top_level ? compileJsonString(s) : compileTextString(s);
  }
  Node node;
  if (value.is_object()) {
    bool constant = true;
    node.members.reserve(value.size());
    for (const auto& [key, child] : value.items()) {
      node.members.emplace_back(key, compileNode(child, mode, false));
      constant = constant && node.members.back().second.kind == Node::Kind::Constant;
    }
    if (!constant) {
      node.kind = Node::Kind::Object;
      return node;
    }
    // Built from the children, not copied from `value`: a constant leaf may differ from its
    // source (`\@{x}` is `@{x}`).
    node.constant = Json::object();
    for (auto& [key, child] : node.members) node.constant.emplace(key, std::move(child.constant));
    node.members.clear();
    return node;
  } else if (value.is_array()) {
    bool constant = true;
    node.items.reserve(value.size());
    for (const auto& child : value) {
      node.items.push_back(compileNode(child, mode, false));
      constant = constant && node.items.back().kind == Node::Kind::Constant;
    }
    if (!constant) {
      node.kind = Node::Kind::Array;
      return node;
    }
    node.constant = Json::array();
    for (auto& child : node.items) node.constant.push_back(std::move(child.constant));
    node.items.clear();
    return node;
  }
  node.constant = value;
  return node;
}

/// Concatenates literal and looked-up pieces. Inserted values are temporaries from the env, so
/// strings are appended straight from them without another copy.
std::string concatenate(const Node& node, const TemplateEnv& env) {
  std::string out;
  out.reserve(node.literal_size + 16 * node.pieces.size());
  for (const auto& piece : node.pieces) {
    if (piece.kind == PieceKind::Literal) {
      out += piece.literal;
      continue;
    }
    const Json value = env.lookup(piece.path);
    const auto* text = value.get_ptr<const std::string*>();
    switch (piece.kind) {
      case PieceKind::Text:
        if (text != nullptr) {
          out += *text;
        } else {
          dumpInto(out, value);
        }
        break;
      case PieceKind::JsonString:
        if (text != nullptr) {
          appendJsonEscaped(out, *text);
        } else {
          std::string dumped;
          dumpInto(dumped, value);
          appendJsonEscaped(out, dumped);
        }
        break;
      case PieceKind::JsonValue:
        dumpInto(out, value);
        break;
      case PieceKind::Literal:
        break;
    }
  }
  return out;
}

Json renderNode(const Node& node, const TemplateEnv& env) {
  switch (node.kind) {
    case Node::Kind::Constant:
      return node.constant;
    case Node::Kind::FullMatch:
      return env.lookup(node.path);
    case Node::Kind::Interpolate:
      return concatenate(node, env);
    case Node::Kind::JsonText:
      return parseJsonText(concatenate(node, env));
    case Node::Kind::Invalid:
      throw TemplateError(node.error);
    case Node::Kind::Object: {
      Json out = Json::object();
      for (const auto& [key, child] : node.members) out.emplace(key, renderNode(child, env));
      return out;
    }
    case Node::Kind::Array: {
      Json out = Json::array();
      out.get_ref<Json::array_t&>().reserve(node.items.size());
      for (const auto& child : node.items) out.push_back(renderNode(child, env));
      return out;
    }
  }
  return nullptr;
}

}  // namespace

Path parsePath(std::string_view text) {
  Path path;
  text = trim(text);
  path.text = std::string(text);
  // An empty path has no segments (rather than one empty segment) so it resolves to the root.
  if (text.empty()) return path;
  std::size_t start = 0;
  while (true) {
    const auto dot = text.find('.', start);
    if (dot == std::string_view::npos) {
      path.segments.emplace_back(text.substr(start));
      break;
    }
    path.segments.emplace_back(text.substr(start, dot - start));
    start = dot + 1;
  }
  const std::string& head = path.segments[0];
  if (head == "result")
    path.root = Path::Root::Result;
  else if (head == "message")
    path.root = Path::Root::Message;
  else if (head == "results")
    path.root = Path::Root::Results;
  else if (head == "payload")
    path.root = Path::Root::Payload;
  else if (head == "state")
    path.root = Path::Root::State;
  else if (!head.empty() && head[0] == '$')
    path.root = Path::Root::EnvVar;
  else
    path.root = Path::Root::Other;
  return path;
}

const Json* walkPath(const Json& root, const std::vector<std::string>& segments, std::size_t from) {
  const Json* current = &root;
  for (std::size_t i = from; i < segments.size(); ++i) {
    const std::string& segment = segments[i];
    if (current->is_object()) {
      const auto& object = current->get_ref<const Json::object_t&>();
      const auto it = object.find(segment);
      if (it == object.end()) return nullptr;
      current = &it->second;
    } else if (current->is_array()) {
      bool negative = false;
      std::size_t magnitude = 0;
      if (!parseIndex(segment, negative, magnitude)) return nullptr;
      const auto& array = current->get_ref<const Json::array_t&>();
      const std::size_t size = array.size();
      if (negative) {
        if (magnitude == 0 || magnitude > size) return nullptr;
        current = &array[size - magnitude];
      } else {
        if (magnitude >= size) return nullptr;
        current = &array[magnitude];
      }
    } else {
      return nullptr;
    }
  }
  return current;
}

struct Template::Impl {
  Node root;
};

Template::Template() = default;
Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

Template Template::compile(const Json& value, Mode mode) {
  Template compiled;
  compiled.impl_ = std::make_unique<Impl>();
  compiled.impl_->root = compileNode(value, mode, true);
  return compiled;
}

bool Template::isConstant() const {
  // An invalid JSON constant counts: it has no template and fails the same way every time, so a
  // caller that pre-renders constants at deploy time reports it early.
  if (!impl_) return true;
  const auto kind = impl_->root.kind;
  return kind == Node::Kind::Constant || kind == Node::Kind::Invalid;
}

Json Template::render(const TemplateEnv& env) const {
  // A default-constructed or moved-from Template renders null rather than crashing.
  if (!impl_) return nullptr;
  return renderNode(impl_->root, env);
}

}  // namespace blueprint::host
