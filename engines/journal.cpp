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

std::map<std::string, SnapshotOrigin> snapshot_origins(const std::vector<JournalEvent>& events) {
  std::map<std::string, SnapshotOrigin> out;
  // (metadata device, thin id) -> the top device of its latest table, as the events go.
  std::map<std::pair<std::string, uint64_t>, std::string> device_of;
  for (const JournalEvent& e : events)
    if (e.kind == JournalEvent::ThinDevice) device_of[{e.metadata_device, e.dev_id}] = e.device;
  for (size_t i = 0; i < events.size(); i++) {
    const JournalEvent& e = events[i];
    if (e.kind != JournalEvent::ThinSnapshot) continue;
    // The origin's device when the snapshot was taken; the snapshot's whenever it was opened.
    std::string origin;
    for (size_t k = 0; k < i; k++) {
      const JournalEvent& d = events[k];
      if (d.kind == JournalEvent::ThinDevice && d.metadata_device == e.metadata_device && d.dev_id == e.origin_id)
        origin = d.device;
    }
    auto snap = device_of.find({e.metadata_device, e.dev_id});
    if (origin.empty() || snap == device_of.end() || snap->second == origin) continue;
    out[snap->second] = {origin, i};
  }
  return out;
}

std::map<std::string, size_t> snapshot_references(const std::vector<JournalEvent>& events,
                                                  const std::function<bool(size_t)>& counts) {
  std::map<std::string, size_t> out;
  for (size_t i = 0; i < events.size(); i++) {
    const JournalEvent& e = events[i];
    if (e.kind != JournalEvent::SnapshotDevice || (counts && !counts(i))) continue;
    if (e.fresh)
      out[e.device] = i;
    else
      out.try_emplace(e.device, i);
  }
  return out;
}

std::map<std::string, std::string> external_origins(const std::vector<JournalEvent>& events) {
  std::map<std::string, std::string> out;
  const std::map<std::string, size_t> refs = snapshot_references(events);
  for (size_t i = 0; i < events.size(); i++) {
    const JournalEvent& e = events[i];
    if (e.kind == JournalEvent::SnapshotDevice) {
      // Fixed at its reference activation: the device its table names, whose content then
      // includes every write completed through the snapshot-origin device above it.
      if (refs.at(e.device) == i) out[e.device] = e.data_device.empty() ? e.origin_device : e.data_device;
      continue;
    }
    if (e.kind != JournalEvent::ThinDevice && e.kind != JournalEvent::CloneDevice) continue;
    if (e.external_origin)
      out[e.device] = e.origin_device;
    else
      out.erase(e.device);
  }
  return out;
}

std::map<std::string, CloneSource> clone_sources(const std::vector<JournalEvent>& events) {
  std::map<std::string, CloneSource> out;
  const std::map<std::string, size_t> refs = snapshot_references(events);
  for (size_t i = 0; i < events.size(); i++) {
    const JournalEvent& e = events[i];
    if (e.kind == JournalEvent::CloneDevice)
      out[e.device] = {e.origin_device, e.block_sectors, e.at_ns};
    else if (e.kind == JournalEvent::SnapshotDevice && refs.at(e.device) == i)
      out[e.device] = CloneSource{e.data_device.empty() ? e.origin_device : e.data_device, 0, e.at_ns};
    else if (e.kind == JournalEvent::ThinDevice)
      out.erase(e.device);
  }
  return out;
}

std::map<std::string, MergeSource> merge_sources(const std::vector<JournalEvent>& events) {
  std::map<std::string, MergeSource> out;
  for (size_t i = 0; i < events.size(); i++) {
    const JournalEvent& e = events[i];
    if (e.kind != JournalEvent::SnapshotMerge || out.count(e.device)) continue;
    // The latest snapshot activated on the same COW device before the merge began.
    for (size_t k = i; k-- > 0;)
      if (events[k].kind == JournalEvent::SnapshotDevice && events[k].metadata_device == e.metadata_device) {
        out[e.device] = {events[k].device, i};
        break;
      }
  }
  return out;
}

std::set<std::string> deleted_devices(const std::vector<JournalEvent>& events) {
  std::map<std::string, std::pair<std::string, uint64_t>> thin_of;  // device -> (pool metadata, id)
  std::set<std::string> deleted;
  for (const auto& e : events) {
    if (e.kind == JournalEvent::ThinDevice) {
      thin_of[e.device] = {e.metadata_device, e.dev_id};
      deleted.erase(e.device);
    } else if (e.kind == JournalEvent::ThinDelete) {
      for (const auto& [dev, t] : thin_of)
        if (t.first == e.metadata_device && t.second == e.dev_id) deleted.insert(dev);
    }
  }
  // A snapshot merged back into its origin is gone as a device of its own: its content is judged
  // through the merging device (merge_sources).
  for (const auto& [merging, m] : merge_sources(events)) deleted.insert(m.snapshot);
  return deleted;
}

}  // namespace engines
