// A small length-prefixed binary encoding for data that crosses a process boundary (a
// simulation's result, a scenario phase's output). Exact and independent of locale.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace sim {

class WireWriter {
 public:
  void u64(uint64_t v) {
    for (int i = 0; i < 8; i++) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void str(const std::string& s) {
    u64(s.size());
    out_ += s;
  }
  void f64(double d) { str(std::to_string(d)); }
  const std::string& bytes() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class WireReader {
 public:
  explicit WireReader(const std::string& in, size_t pos = 0) : in_(in), pos_(pos) {}
  uint64_t u64() {
    if (pos_ + 8 > in_.size()) throw std::runtime_error("truncated data");
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= static_cast<uint64_t>(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i);
    pos_ += 8;
    return v;
  }
  std::string str() {
    const uint64_t n = u64();
    if (pos_ + n > in_.size()) throw std::runtime_error("truncated data");
    std::string s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  double f64() { return std::stod(str()); }
  bool done() const { return pos_ >= in_.size(); }

 private:
  const std::string& in_;
  size_t pos_;
};

}  // namespace sim
