/* The kernel an stb_image header's JPEG decoder picks to turn YCbCr into 3 bytes a pixel, exported as
 * RGB_FUNCTION; compiled once against upstream's header and once against the patched one for
 * check-rgb-conversion.c. */
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#include "stb_image.h"

void RGB_FUNCTION(unsigned char *out, const unsigned char *y, const unsigned char *cb, const unsigned char *cr,
                  int count)
{
   static stbi__jpeg decoder;
   stbi__setup_jpeg(&decoder);
   decoder.YCbCr_to_RGB_kernel(out, y, cb, cr, count, 3);
}
