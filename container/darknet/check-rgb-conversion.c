/* Darknet parity rests on the decode giving upstream stb_image's bytes, and patches/0004 rewrites its
 * YCbCr-to-RGB conversion: this compares the two kernels on every (Y, Cb, Cr) byte triple, in rows whose
 * lengths leave every remainder of a 32-pixel vector for the loop's tail, and checks the patched one
 * writes nothing past the row. build-darknet.sh fails the build on any difference. */
#include <stdio.h>
#include <string.h>

void upstream_rgb(unsigned char *out, const unsigned char *y, const unsigned char *cb, const unsigned char *cr,
                  int count);
void patched_rgb(unsigned char *out, const unsigned char *y, const unsigned char *cb, const unsigned char *cr,
                 int count);

int main(void)
{
   enum { ROW = 256 + 31, GUARD = 0xA5 };
   static unsigned char y[ROW], cb[ROW], cr[ROW], upstream[ROW * 3 + 1], patched[ROW * 3 + 1];
   long differing = 0, overrun = 0;
   for (int i = 0; i < ROW; i++) y[i] = (unsigned char)i; /* the first 256 pixels: every Y */
   for (int u = 0; u < 256; u++) {
      for (int v = 0; v < 256; v++) {
         int count = 256 + (u + v) % 32; /* 256 to 287 pixels */
         memset(cb, u, sizeof cb);
         memset(cr, v, sizeof cr);
         patched[count * 3] = GUARD;
         upstream_rgb(upstream, y, cb, cr, count);
         patched_rgb(patched, y, cb, cr, count);
         for (int k = 0; k < count * 3; k++) differing += upstream[k] != patched[k];
         overrun += patched[count * 3] != GUARD;
      }
   }
   if (differing || overrun) {
      fprintf(stderr, "check-rgb-conversion: %ld bytes differ from upstream stb_image, %ld rows overrun\n",
              differing, overrun);
      return 1;
   }
   return 0;
}
