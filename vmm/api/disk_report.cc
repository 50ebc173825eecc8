#include "vmm/api/disk_report.h"

namespace wren {

nlohmann::json disk_json(const BlkReport& r) {
  const BlkCounters& c = r.counters;
  return nlohmann::json{
      {"name", r.name},
      {"path", r.path},
      {"read_only", r.read_only},
      {"cache", r.direct ? "none" : "writeback"},
      {"writeback", r.writeback},
      {"active", r.active},
      {"capacity", r.capacity_bytes},
      {"queues", r.queues},
      {"counters",
       {{"requests", c.requests()},
        {"reads", c.reads},
        {"writes", c.writes},
        {"flushes", c.flushes},
        {"discards", c.discards},
        {"write_zeroes", c.write_zeroes},
        {"get_ids", c.get_ids},
        {"bytes_read", c.bytes_read},
        {"bytes_written", c.bytes_written},
        {"errors", c.io_errors + c.unsupported + c.malformed},
        {"io_errors", c.io_errors},
        {"host_errors", c.host_errors},
        {"unsupported", c.unsupported},
        {"malformed", c.malformed},
        {"in_flight", c.in_flight}}},
  };
}

}  // namespace wren
