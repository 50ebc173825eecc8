#pragma once
// <linux/virtio_net.h> for C++: the header names a struct member `class`
// (virtio_net_ctrl_hdr), a C++ keyword. Include it through here only.
#define class ctrl_class
#include <linux/virtio_net.h>
#undef class
