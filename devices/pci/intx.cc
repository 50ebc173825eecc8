#include "devices/pci/intx.h"

namespace wren::pci {

class SharedIntxLine::Source : public IrqLine {
 public:
  explicit Source(std::shared_ptr<SharedIntxLine> shared) : shared_(std::move(shared)) {}
  ~Source() override { set_level(false); }
  void set_level(bool high) override {
    std::lock_guard lock(shared_->mutex_);
    if (high == high_) return;
    high_ = high;
    shared_->update(high);
  }

 private:
  std::shared_ptr<SharedIntxLine> shared_;
  bool high_ = false;  // guarded by shared_->mutex_
};

std::shared_ptr<IrqLine> SharedIntxLine::make_source() { return std::make_shared<Source>(shared_from_this()); }

bool SharedIntxLine::level() const {
  std::lock_guard lock(mutex_);
  return asserted_ > 0;
}

void SharedIntxLine::update(bool high) {
  const bool before = asserted_ > 0;
  asserted_ = high ? asserted_ + 1 : asserted_ - 1;
  const bool after = asserted_ > 0;
  if (before != after && line_) line_->set_level(after);
}

}  // namespace wren::pci
