// A Vulkan layer that counts what a process sends the GPU: compute dispatches recorded,
// queue submissions, buffers created and memory allocations. It writes the totals to the
// file named by HEARTH_VK_COUNT_OUT when the process exits. hearth counts the same things
// where it launches work (`hearth bench --json`); this counts them from outside, where the
// driver sees them.
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vulkan/vk_layer.h>
#include <vulkan/vulkan.h>

static atomic_ulong dispatches, submissions, buffers, allocations;
static PFN_vkGetInstanceProcAddr next_instance_proc;
static PFN_vkGetDeviceProcAddr next_device_proc;
static PFN_vkCmdDispatch next_dispatch;
static PFN_vkQueueSubmit next_submit;
static PFN_vkQueueSubmit2 next_submit2;
static PFN_vkCreateBuffer next_create_buffer;
static PFN_vkAllocateMemory next_allocate;

static void report(void) {
  const char *path = getenv("HEARTH_VK_COUNT_OUT");
  FILE *out = path ? fopen(path, "w") : stderr;
  if (!out) return;
  fprintf(out, "{\"dispatches\":%lu,\"submissions\":%lu,\"buffers\":%lu,\"allocations\":%lu}\n",
          dispatches, submissions, buffers, allocations);
  if (path) fclose(out);
}

static VKAPI_ATTR void VKAPI_CALL count_dispatch(VkCommandBuffer cb, uint32_t x, uint32_t y, uint32_t z) {
  atomic_fetch_add(&dispatches, 1);
  next_dispatch(cb, x, y, z);
}

static VKAPI_ATTR VkResult VKAPI_CALL count_submit(VkQueue q, uint32_t n, const VkSubmitInfo *s, VkFence f) {
  atomic_fetch_add(&submissions, n);
  return next_submit(q, n, s, f);
}

static VKAPI_ATTR VkResult VKAPI_CALL count_submit2(VkQueue q, uint32_t n, const VkSubmitInfo2 *s, VkFence f) {
  atomic_fetch_add(&submissions, n);
  return next_submit2(q, n, s, f);
}

static VKAPI_ATTR VkResult VKAPI_CALL count_create_buffer(VkDevice d, const VkBufferCreateInfo *i,
                                                          const VkAllocationCallbacks *a, VkBuffer *b) {
  atomic_fetch_add(&buffers, 1);
  return next_create_buffer(d, i, a, b);
}

static VKAPI_ATTR VkResult VKAPI_CALL count_allocate(VkDevice d, const VkMemoryAllocateInfo *i,
                                                     const VkAllocationCallbacks *a, VkDeviceMemory *m) {
  atomic_fetch_add(&allocations, 1);
  return next_allocate(d, i, a, m);
}

static VKAPI_ATTR VkResult VKAPI_CALL count_create_instance(const VkInstanceCreateInfo *info,
                                                            const VkAllocationCallbacks *alloc,
                                                            VkInstance *instance) {
  VkLayerInstanceCreateInfo *link = (VkLayerInstanceCreateInfo *)info->pNext;
  while (link && !(link->sType == VK_STRUCTURE_TYPE_LOADER_INSTANCE_CREATE_INFO && link->function == VK_LAYER_LINK_INFO))
    link = (VkLayerInstanceCreateInfo *)link->pNext;
  if (!link) return VK_ERROR_INITIALIZATION_FAILED;
  next_instance_proc = link->u.pLayerInfo->pfnNextGetInstanceProcAddr;
  link->u.pLayerInfo = link->u.pLayerInfo->pNext;
  PFN_vkCreateInstance create = (PFN_vkCreateInstance)next_instance_proc(VK_NULL_HANDLE, "vkCreateInstance");
  static int registered;
  if (!registered++) atexit(report);
  return create(info, alloc, instance);
}

static VKAPI_ATTR VkResult VKAPI_CALL count_create_device(VkPhysicalDevice physical, const VkDeviceCreateInfo *info,
                                                          const VkAllocationCallbacks *alloc, VkDevice *device) {
  VkLayerDeviceCreateInfo *link = (VkLayerDeviceCreateInfo *)info->pNext;
  while (link && !(link->sType == VK_STRUCTURE_TYPE_LOADER_DEVICE_CREATE_INFO && link->function == VK_LAYER_LINK_INFO))
    link = (VkLayerDeviceCreateInfo *)link->pNext;
  if (!link) return VK_ERROR_INITIALIZATION_FAILED;
  PFN_vkGetInstanceProcAddr gipa = link->u.pLayerInfo->pfnNextGetInstanceProcAddr;
  next_device_proc = link->u.pLayerInfo->pfnNextGetDeviceProcAddr;
  link->u.pLayerInfo = link->u.pLayerInfo->pNext;
  PFN_vkCreateDevice create = (PFN_vkCreateDevice)gipa(VK_NULL_HANDLE, "vkCreateDevice");
  VkResult result = create(physical, info, alloc, device);
  if (result != VK_SUCCESS) return result;
  next_dispatch = (PFN_vkCmdDispatch)next_device_proc(*device, "vkCmdDispatch");
  next_submit = (PFN_vkQueueSubmit)next_device_proc(*device, "vkQueueSubmit");
  next_submit2 = (PFN_vkQueueSubmit2)next_device_proc(*device, "vkQueueSubmit2");
  if (!next_submit2) next_submit2 = (PFN_vkQueueSubmit2)next_device_proc(*device, "vkQueueSubmit2KHR");
  next_create_buffer = (PFN_vkCreateBuffer)next_device_proc(*device, "vkCreateBuffer");
  next_allocate = (PFN_vkAllocateMemory)next_device_proc(*device, "vkAllocateMemory");
  return VK_SUCCESS;
}

static PFN_vkVoidFunction device_override(const char *name) {
  if (!strcmp(name, "vkCmdDispatch")) return (PFN_vkVoidFunction)count_dispatch;
  if (!strcmp(name, "vkQueueSubmit")) return (PFN_vkVoidFunction)count_submit;
  if (!strcmp(name, "vkQueueSubmit2") || !strcmp(name, "vkQueueSubmit2KHR")) return (PFN_vkVoidFunction)count_submit2;
  if (!strcmp(name, "vkCreateBuffer")) return (PFN_vkVoidFunction)count_create_buffer;
  if (!strcmp(name, "vkAllocateMemory")) return (PFN_vkVoidFunction)count_allocate;
  return NULL;
}

VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL count_GetDeviceProcAddr(VkDevice device, const char *name) {
  PFN_vkVoidFunction own = device_override(name);
  if (own) return own;
  return next_device_proc(device, name);
}

VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL count_GetInstanceProcAddr(VkInstance instance, const char *name) {
  if (!strcmp(name, "vkCreateInstance")) return (PFN_vkVoidFunction)count_create_instance;
  if (!strcmp(name, "vkCreateDevice")) return (PFN_vkVoidFunction)count_create_device;
  if (!strcmp(name, "vkGetInstanceProcAddr")) return (PFN_vkVoidFunction)count_GetInstanceProcAddr;
  if (!strcmp(name, "vkGetDeviceProcAddr")) return (PFN_vkVoidFunction)count_GetDeviceProcAddr;
  PFN_vkVoidFunction own = device_override(name);
  if (own) return own;
  return next_instance_proc(instance, name);
}
