#include "common/json_escape.h"

#include <cstdint>

namespace moor {
namespace {

bool Hex4(std::string_view s, size_t pos, uint32_t* v) {
  if (pos + 4 > s.size()) return false;
  uint32_t x = 0;
  for (size_t i = pos; i < pos + 4; ++i) {
    char c = s[i];
    uint32_t h;
    if (c >= '0' && c <= '9') {
      h = static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      h = static_cast<uint32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      h = static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return false;
    }
    x = x << 4 | h;
  }
  *v = x;
  return true;
}

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | cp >> 6);
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out += static_cast<char>(0xE0 | cp >> 12);
    *out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | cp >> 18);
    *out += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
    *out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

bool AppendJsonEscape(std::string_view s, size_t* pos, std::string* out) {
  size_t i = *pos;
  if (i >= s.size()) return false;
  char e = s[i++];
  switch (e) {
    case '"':
    case '\\':
    case '/':
      *out += e;
      break;
    case 'b':
      *out += '\b';
      break;
    case 'f':
      *out += '\f';
      break;
    case 'n':
      *out += '\n';
      break;
    case 'r':
      *out += '\r';
      break;
    case 't':
      *out += '\t';
      break;
    case 'u': {
      uint32_t cp;
      if (!Hex4(s, i, &cp)) return false;
      i += 4;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        uint32_t lo;
        if (i + 1 < s.size() && s[i] == '\\' && s[i + 1] == 'u' && Hex4(s, i + 2, &lo) && lo >= 0xDC00 &&
            lo <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          i += 6;
        } else {
          cp = 0xFFFD;  // a lone surrogate is no character
        }
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        cp = 0xFFFD;
      }
      AppendUtf8(out, cp);
      break;
    }
    default:
      return false;
  }
  *pos = i;
  return true;
}

}  // namespace moor
