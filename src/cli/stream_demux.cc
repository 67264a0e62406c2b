#include "cli/stream_demux.h"

#include <charconv>

namespace moor::cli {

Result<void> StreamDemuxer::Feed(std::string_view data) {
  while (!data.empty()) {
    if (remaining_ == 0) {
      size_t take = std::min(data.size(), 8 - header_len_);
      std::copy_n(data.data(), take, header_ + header_len_);
      header_len_ += take;
      data.remove_prefix(take);
      if (header_len_ < 8) return {};
      header_len_ = 0;
      if (header_[0] > 2 || header_[1] || header_[2] || header_[3]) {
        return FailInvalid("bad stream framing from the daemon (stream id " + std::to_string(header_[0]) +
                           ")");
      }
      stream_ = header_[0];
      remaining_ = (uint32_t{header_[4]} << 24) | (uint32_t{header_[5]} << 16) | (uint32_t{header_[6]} << 8) |
                   uint32_t{header_[7]};
      continue;
    }
    size_t take = std::min<size_t>(data.size(), remaining_);
    sink_(stream_, data.substr(0, take));
    remaining_ -= static_cast<uint32_t>(take);
    data.remove_prefix(take);
  }
  return {};
}

std::string MuxFrame(int stream, std::string_view payload) {
  std::string out(8, '\0');
  out[0] = static_cast<char>(stream);
  uint32_t n = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) out[4 + i] = static_cast<char>((n >> (24 - 8 * i)) & 0xff);
  out.append(payload);
  return out;
}

Result<void> ChunkedDecoder::Feed(std::string_view data, std::string* out) {
  while (!data.empty() && state_ != State::kDone) {
    if (state_ == State::kData) {
      size_t take = std::min(remaining_, data.size());
      out->append(data.substr(0, take));
      remaining_ -= take;
      data.remove_prefix(take);
      if (remaining_ == 0) state_ = State::kDataEnd;
      continue;
    }
    // Line-oriented states: collect up to '\n'.
    auto nl = data.find('\n');
    line_.append(data.substr(0, nl));
    if (nl == std::string_view::npos) return {};
    data.remove_prefix(nl + 1);
    std::string line = std::move(line_);
    line_.clear();
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (state_ == State::kDataEnd) {
      if (!line.empty()) return FailInvalid("bad chunked encoding from the daemon");
      state_ = State::kSize;
    } else if (state_ == State::kSize) {
      std::string_view hex = line;
      if (auto semi = hex.find(';'); semi != std::string_view::npos) hex = hex.substr(0, semi);
      size_t n = 0;
      auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), n, 16);
      if (hex.empty() || ec != std::errc() || p != hex.data() + hex.size()) {
        return FailInvalid("bad chunk size \"" + line + "\" from the daemon");
      }
      remaining_ = n;
      state_ = n == 0 ? State::kTrailer : State::kData;
    } else if (state_ == State::kTrailer) {
      if (line.empty()) state_ = State::kDone;
    }
  }
  return {};
}

bool JsonObjectSplitter::Feed(std::string_view data,
                              const std::function<bool(const std::string&)>& on_object) {
  buf_.append(data);
  while (scanned_ < buf_.size()) {
    char c = buf_[scanned_++];
    if (in_string_) {
      if (escaped_)
        escaped_ = false;
      else if (c == '\\')
        escaped_ = true;
      else if (c == '"')
        in_string_ = false;
      continue;
    }
    if (depth_ == 0 && c != '{') {
      // Whitespace (or junk) between objects.
      buf_.erase(0, scanned_);
      scanned_ = 0;
      continue;
    }
    if (c == '"')
      in_string_ = true;
    else if (c == '{')
      ++depth_;
    else if (c == '}' && --depth_ == 0) {
      std::string obj = buf_.substr(0, scanned_);
      buf_.erase(0, scanned_);
      scanned_ = 0;
      if (!on_object(obj)) return false;
    }
  }
  return true;
}

}  // namespace moor::cli
