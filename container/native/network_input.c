/* Darknet's network input from 8-bit pixels in one pass, bit for bit.
 *
 * test_detector feeds the network letterbox_image (or, for the fork's models without letter_box,
 * resize_image) of load_image_stb's float image: every byte becomes (float)byte/255., then
 * resize_image shrinks the planes across (into `part`) and then down, and letterbox_image embeds the
 * result in a 0.5 grey canvas. Each output value here comes from the same operations in the same order
 * (tests/container/test_network_input.py holds them to libdarknet):
 *   across: fmaf(dx, b, (1 - dx) * a), the product rounded first (gcc contracts image.c so);
 *   down:   (1 - dy) * top, then + dy * bottom, each term rounded (no contraction);
 * compiled with -ffp-contract=off so that only the fmaf written here is fused. What it saves is
 * Darknet's 12-byte float copy of the whole photo and image.c's per-pixel bounds checks: only the
 * source rows the second pass reads are converted (at most two per output row, whatever the photo's
 * size), and the canvas is written once.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* resize_image's sampling of one axis: s = i * ((float)(size - 1) / (new_size - 1)), ix = (int)s. */
static void samples(int size, int new_size, int *low, int *high, float *weight)
{
    float scale = new_size > 1 ? (float)(size - 1) / (new_size - 1) : 0; /* one column: copied */
    for (int i = 0; i < new_size; ++i) {
        float s = i * scale;
        int ix = (int)s;
        low[i] = ix;
        high[i] = ix + 1 < size ? ix + 1 : size - 1;
        weight[i] = s - ix;
    }
}

/* Fills out (3 x net_h x net_w floats, planar) for pixels (height x width x 3 bytes, each pixel's
 * bytes adjacent; rows row_step and pixels pixel_step bytes apart, either negative for a flipped or
 * turned view), using part (3 x min(height, 2 x net_h) x net_w floats) for the first pass: the caller
 * keeps both buffers for the next call, since fresh pages for them cost more than the arithmetic.
 * Returns 0, or -1 where Darknet itself would not resize (under 2 rows: a NaN scale its assert stops
 * on) or memory runs out. */
int darknet_network_input(const unsigned char *pixels, int width, int height, long row_step,
                          long pixel_step, int net_w, int net_h, int letterbox, float *part, float *out)
{
    enum { CHANNELS = 3 };
    int new_w = net_w, new_h = net_h;
    if (letterbox) {
        if (((float)net_w / width) < ((float)net_h / height)) {
            new_h = (height * net_w) / width;
        } else {
            new_w = (width * net_h) / height;
        }
    }
    if (new_w < 1 || new_h < 2 || width < 1 || height < 1) return -1;
    float byte_to_float[256];
    for (int v = 0; v < 256; ++v) byte_to_float[v] = (float)v / 255.;

    int *left = malloc(sizeof(int) * new_w), *right = malloc(sizeof(int) * new_w);
    int *top = malloc(sizeof(int) * new_h), *bottom = malloc(sizeof(int) * new_h);
    float *dx = malloc(sizeof(float) * new_w), *dy = malloc(sizeof(float) * new_h);
    float *ux = malloc(sizeof(float) * new_w);               /* 1 - dx, rounded as image.c rounds it */
    long *from_a = malloc(sizeof(long) * new_w), *from_b = malloc(sizeof(long) * new_w); /* byte offsets */
    int *slot = malloc(sizeof(int) * height); /* a source row's place in part, or -1: not read */
    int status = -1;
    if (!left || !right || !top || !bottom || !dx || !dy || !ux || !from_a || !from_b || !slot) goto done;
    samples(width, new_w, left, right, dx);
    samples(height, new_h, top, bottom, dy);
    for (int x = 0; x < new_w; ++x) {
        ux[x] = 1 - dx[x];
        from_a[x] = left[x] * pixel_step;
        from_b[x] = right[x] * pixel_step;
    }
    from_a[new_w - 1] = from_b[new_w - 1] = (long)(width - 1) * pixel_step; /* the last column: copied */
    for (int y = 0; y < height; ++y) slot[y] = -1;
    for (int r = 0; r < new_h; ++r) slot[top[r]] = slot[bottom[r]] = 0;
    size_t kept = 0;
    for (int y = 0; y < height; ++y) {
        if (slot[y] == 0) slot[y] = (int)kept++;
    }
    size_t part_plane = kept * new_w;

    /* Across: each source row the second pass reads, as resize_image's first pass computes every row
     * (the last column is copied), a pixel's three bytes at a time. */
    for (int y = 0; y < height; ++y) {
        if (slot[y] < 0) continue;
        const unsigned char *row = pixels + y * row_step;
        float *into[CHANNELS];
        for (int k = 0; k < CHANNELS; ++k) into[k] = part + k * part_plane + (size_t)slot[y] * new_w;
        int blended = width == 1 ? 0 : new_w - 1; /* one source column: every value is a copy */
        for (int x = 0; x < blended; ++x) {
            const unsigned char *a = row + from_a[x], *b = row + from_b[x];
            for (int k = 0; k < CHANNELS; ++k) {
                into[k][x] = fmaf(dx[x], byte_to_float[b[k]], ux[x] * byte_to_float[a[k]]);
            }
        }
        for (int x = blended; x < new_w; ++x) {
            for (int k = 0; k < CHANNELS; ++k) into[k][x] = byte_to_float[row[from_a[x] + k]];
        }
    }

    /* Down, into the canvas: letterbox_image's 0.5 grey around the centred image. */
    int offset_x = (net_w - new_w) / 2, offset_y = (net_h - new_h) / 2;
    size_t plane = (size_t)net_w * net_h;
    if (letterbox) {
        for (size_t i = 0; i < CHANNELS * plane; ++i) out[i] = .5f;
    }
    for (int k = 0; k < CHANNELS; ++k) {
        for (int r = 0; r < new_h; ++r) {
            const float *upper = part + k * part_plane + (size_t)slot[top[r]] * new_w;
            const float *lower = part + k * part_plane + (size_t)slot[bottom[r]] * new_w;
            float *into = out + k * plane + (size_t)(offset_y + r) * net_w + offset_x;
            float wu = 1 - dy[r], wl = dy[r];
            if (r == new_h - 1 || height == 1) {
                for (int x = 0; x < new_w; ++x) into[x] = wu * upper[x];
            } else {
                for (int x = 0; x < new_w; ++x) into[x] = wu * upper[x] + wl * lower[x];
            }
        }
    }
    status = 0;
done:
    free(left);
    free(right);
    free(top);
    free(bottom);
    free(dx);
    free(dy);
    free(ux);
    free(from_a);
    free(from_b);
    free(slot);
    return status;
}
