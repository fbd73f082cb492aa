// What the harness looks up by name (tools, checks, metadata checkers), listed in name order.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace engines {

template <class T>
class NamedRegistry {
 public:
  void add(const std::string& name, T item) { items_[name] = std::move(item); }
  const T* find(const std::string& name) const {
    auto it = items_.find(name);
    return it == items_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> n;
    for (const auto& [name, item] : items_) n.push_back(name);
    return n;
  }
  const std::map<std::string, T>& items() const { return items_; }

 private:
  std::map<std::string, T> items_;
};

}  // namespace engines
