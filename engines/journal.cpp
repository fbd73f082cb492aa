#include "engines/journal.hpp"

namespace engines {

Journal& journal() {
  static Journal j;
  return j;
}

void journal_event(JournalEvent e) {
  journal().events.push_back(std::move(e));
}

void journal_commit(CommitRecord r) {
  journal().commits.push_back(std::move(r));
}

}  // namespace engines
