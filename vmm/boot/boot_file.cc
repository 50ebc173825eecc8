#include "vmm/boot/boot_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hypervisor/unique_fd.h"

namespace wren {

Result<std::vector<uint8_t>> read_boot_file(const std::string& path, std::string_view what) {
  const std::string name = std::string(what) + " file '" + path + "'";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Error{"cannot open " + name + ": " + std::strerror(errno)};
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Error{"cannot stat " + name + ": " + std::strerror(errno)};
  if (!S_ISREG(st.st_mode)) return Error{name + " is not a regular file"};
  if (st.st_size == 0) return Error{name + " is empty"};

  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error{"cannot read " + name + ": " + std::strerror(errno)};
    }
    if (n == 0) return Error{name + " shrank while being read"};
    done += static_cast<size_t>(n);
  }
  return bytes;
}

}  // namespace wren
