/* Version and device queries. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

TRITIUM_API unsigned tritium_version(void) { return TRITIUM_VERSION_NUMBER; }

TRITIUM_API const char *tritium_version_string(void) { return TRITIUM_VERSION_STRING; }

TRITIUM_API const char *tritium_shipped_archs(void) { return TRITIUM_SHIPPED_ARCHS; }

TRITIUM_API tritium_status tritium_device_count(int *count) {
    tritium_clear_error();
    if (!count) return tritium_fail(TRITIUM_ERROR_NULL_POINTER, "count is NULL");
    *count = 0;
    const tritium_driver *drv;
    tritium_status s = tritium_driver_get(&drv);
    if (s != TRITIUM_SUCCESS) return s;
    CUresult r = drv->DeviceGetCount(count);
    if (r != CUDA_SUCCESS) return tritium_fail_driver(TRITIUM_ERROR_DRIVER, "cuDeviceGetCount", r);
    return TRITIUM_SUCCESS;
}

TRITIUM_API tritium_status tritium_device_info(int ordinal, int *major, int *minor, char *name,
                                               size_t name_size, char *image, size_t image_size) {
    tritium_clear_error();
    if (!major || !minor) return tritium_fail(TRITIUM_ERROR_NULL_POINTER, "major/minor is NULL");
    if ((!name && name_size) || (!image && image_size))
        return tritium_fail(TRITIUM_ERROR_NULL_POINTER, "name or image is NULL with a nonzero size");
    const tritium_driver *drv;
    tritium_status s = tritium_driver_get(&drv);
    if (s != TRITIUM_SUCCESS) return s;
    int count = 0;
    drv->DeviceGetCount(&count);
    if (ordinal < 0 || ordinal >= count)
        return tritium_fail(TRITIUM_ERROR_INVALID_VALUE, "ordinal %d: the driver sees %d device(s)", ordinal, count);
    CUdevice dev;
    CUresult r;
    int smem = 0;
    if ((r = drv->DeviceGet(&dev, ordinal)) ||
        (r = drv->DeviceGetAttribute(major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev)) ||
        (r = drv->DeviceGetAttribute(minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev)) ||
        (r = drv->DeviceGetAttribute(&smem, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, dev)))
        return tritium_fail_driver(TRITIUM_ERROR_DRIVER, "cuDeviceGetAttribute", r);
    if (name_size) {
        name[0] = '\0';
        if ((r = drv->DeviceGetName(name, (int)(name_size > 4096 ? 4096 : name_size), dev)))
            return tritium_fail_driver(TRITIUM_ERROR_DRIVER, "cuDeviceGetName", r);
    }
    /* Per kernel: the image its variants would load here (they differ only where a
     * config's shared memory does not fit, which the counts show). */
    int arch = *major * 10 + *minor, any = 0;
    size_t used = 0;
    if (image_size) image[0] = '\0';
    for (int k = 0; k < TRITIUM_K_COUNT; ++k) {
        int cubins = 0, ptx = 0, none = 0;
        const tritium_image *pick = NULL;
        for (int v = 0; v < TRITIUM_VARIANT_COUNT; ++v) {
            if (tritium_variants[v].kernel != k) continue;
            int i = tritium_select_image(v, arch, smem);
            if (i < 0) { ++none; continue; }
            if (tritium_images[i].is_ptx) ++ptx; else ++cubins;
            if (!pick) pick = &tritium_images[i];
        }
        any |= pick != NULL;
        if (image_size && used < image_size) {
            int w = pick ? snprintf(image + used, image_size - used, "%s%s: %s %s_%d%s (%d cubin, %d ptx, %d none)",
                                    k ? "; " : "", tritium_kernel_names[k], pick->is_ptx ? "ptx" : "cubin",
                                    pick->is_ptx ? "compute" : "sm", pick->arch,
                                    pick->is_ptx ? " JIT" : (pick->arch >= 90 ? "a" : ""), cubins, ptx, none)
                         : snprintf(image + used, image_size - used, "%s%s: none", k ? "; " : "",
                                    tritium_kernel_names[k]);
            used += w > 0 ? (size_t)w : 0;
        }
    }
    if (!any)
        return tritium_fail(TRITIUM_ERROR_NO_KERNEL_IMAGE, "no shipped image runs on sm_%d (shipped: %s)", arch,
                            TRITIUM_SHIPPED_ARCHS);
    return TRITIUM_SUCCESS;
}
