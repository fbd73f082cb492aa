// A small length-prefixed binary encoding for data that crosses a process boundary (a
// simulation's result, a scenario phase's output). Exact and independent of locale. The
// format is private to one binary: the writing and the reading process run the same code.
//
// A type that crosses lists its fields once, for both directions (FoundationDB's pattern):
//   template <class Ar> void serialize(Ar& ar) { ar(kind, device, sector); }
// WireWriter walks that list writing, WireReader walks it reading into a default-made value.
// A field is an integer, a bool, an enum, a double, a string, a pair, a vector or a map of
// fields, or a type with such a serialize member. to_wire() and from_wire() do a whole value.
#pragma once

#include <bit>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace sim {

// Bytes that are not what the reader expects: a harness bug, so the run gives no verdict.
struct WireError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace wire_detail {
template <class T>
struct is_pair : std::false_type {};
template <class A, class B>
struct is_pair<std::pair<A, B>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};
template <class T>
struct is_map : std::false_type {};
template <class K, class V, class C, class A>
struct is_map<std::map<K, V, C, A>> : std::true_type {};
}  // namespace wire_detail

class WireWriter {
 public:
  void u64(uint64_t v) {
    for (int i = 0; i < 8; i++) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void str(const std::string& s) {
    u64(s.size());
    out_ += s;
  }
  // The IEEE-754 bit pattern: every double (simulated times, NaN payloads, -0.0) comes back exact.
  void f64(double d) { u64(std::bit_cast<uint64_t>(d)); }
  const std::string& bytes() const { return out_; }
  std::string take() { return std::move(out_); }

  template <class... T>
  void operator()(const T&... fields) {
    (field(fields), ...);
  }

 private:
  template <class T>
  void field(const T& v) {
    using namespace wire_detail;
    if constexpr (std::is_enum_v<T>) {
      field(static_cast<std::underlying_type_t<T>>(v));
    } else if constexpr (std::is_integral_v<T>) {
      // A u64 each: a signed value as its 64-bit two's complement, a bool as 0 or 1.
      u64(static_cast<uint64_t>(static_cast<std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>(v)));
    } else if constexpr (std::is_floating_point_v<T>) {
      static_assert(std::is_same_v<T, double>, "a floating-point field is a double");
      f64(v);
    } else if constexpr (std::is_same_v<T, std::string>) {
      str(v);
    } else if constexpr (is_pair<T>::value) {
      (*this)(v.first, v.second);
    } else if constexpr (is_vector<T>::value) {
      static_assert(!std::is_same_v<T, std::vector<bool>>, "std::vector<bool> has no field references");
      u64(v.size());
      for (const auto& x : v) field(x);
    } else if constexpr (is_map<T>::value) {
      u64(v.size());
      for (const auto& [k, x] : v) (*this)(k, x);
    } else {
      // serialize() is one member for both directions; writing only reads the fields.
      const_cast<T&>(v).serialize(*this);
    }
  }

  std::string out_;
};

class WireReader {
 public:
  // `what` names the value in errors ("phase output").
  explicit WireReader(const std::string& in, size_t pos = 0, std::string what = "data")
      : in_(in), pos_(pos), what_(std::move(what)) {}
  uint64_t u64() {
    need(8);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= static_cast<uint64_t>(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i);
    pos_ += 8;
    return v;
  }
  std::string str() {
    const uint64_t n = u64();
    need(n);
    std::string s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  double f64() { return std::bit_cast<double>(u64()); }
  bool done() const { return pos_ >= in_.size(); }

  template <class... T>
  void operator()(T&... fields) {
    (field(fields), ...);
  }

  // Invariant of a whole value: its fields are exactly the bytes, none short, none left over.
  void expect_end() const {
    if (pos_ != in_.size())
      throw WireError(what_ + ": " + std::to_string(in_.size() - pos_) + " byte(s) left after the last field (of " +
                      std::to_string(in_.size()) + ")");
  }

 private:
  void need(uint64_t n) const {
    if (n > in_.size() - pos_)
      throw WireError(what_ + ": truncated: a field needs " + std::to_string(n) + " byte(s) at offset " +
                      std::to_string(pos_) + ", " + std::to_string(in_.size() - pos_) + " left");
  }

  template <class T>
  void field(T& v) {
    using namespace wire_detail;
    if constexpr (std::is_enum_v<T>) {
      std::underlying_type_t<T> u{};
      field(u);
      v = static_cast<T>(u);
    } else if constexpr (std::is_integral_v<T>) {
      const uint64_t raw = u64();
      using Wide = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
      v = static_cast<T>(static_cast<Wide>(raw));
      // What a WireWriter wrote for a T comes back as that T: anything else is not its output.
      if (static_cast<Wide>(v) != static_cast<Wide>(raw))
        throw WireError(what_ + ": value " + std::to_string(raw) + " at offset " + std::to_string(pos_ - 8) +
                        " does not fit its field");
    } else if constexpr (std::is_floating_point_v<T>) {
      static_assert(std::is_same_v<T, double>, "a floating-point field is a double");
      v = f64();
    } else if constexpr (std::is_same_v<T, std::string>) {
      v = str();
    } else if constexpr (is_pair<T>::value) {
      (*this)(v.first, v.second);
    } else if constexpr (is_vector<T>::value) {
      static_assert(!std::is_same_v<T, std::vector<bool>>, "std::vector<bool> has no field references");
      v.clear();
      // No reserve: a corrupt count runs out of bytes, it does not allocate them.
      for (uint64_t n = u64(); n > 0; n--) field(v.emplace_back());
    } else if constexpr (is_map<T>::value) {
      v.clear();
      for (uint64_t n = u64(); n > 0; n--) {
        std::pair<typename T::key_type, typename T::mapped_type> kv{};
        (*this)(kv.first, kv.second);
        // A map has each key once: a repeated key is not what a WireWriter wrote.
        if (!v.emplace(std::move(kv)).second)
          throw WireError(what_ + ": a map key repeats before offset " + std::to_string(pos_));
      }
    } else {
      v.serialize(*this);
    }
  }

  const std::string& in_;
  size_t pos_;
  std::string what_;
};

template <class T>
std::string to_wire(const T& v) {
  WireWriter w;
  w(v);
  return w.take();
}

// REQUIRES: `bytes` are what to_wire<T> wrote; throws WireError when they are not exactly that.
template <class T>
T from_wire(const std::string& bytes, const std::string& what) {
  WireReader r(bytes, 0, what);
  T v{};
  r(v);
  r.expect_end();
  return v;
}

}  // namespace sim
