/*
 * tensor_print.h - print a float32 matrix exactly as PyTorch prints a tensor.
 *
 * PyTorch's default print options: 4 digits after the point, scientific
 * notation when the largest and smallest nonzero magnitudes differ by more
 * than 1000x (or one is above 1e8 or below 1e-4), every value padded to one
 * width, lines wrapped at 80 columns, and tensors of more than 1000 values
 * summarised with "..." keeping 3 items at each edge of each dimension.
 */
#ifndef TENSOR_PRINT_H
#define TENSOR_PRINT_H

#include <stdint.h>
#include <stdio.h>

// Prints x, a (rows, cols) row-major matrix, as `tensor([[...]], suffix)`
// and a newline. suffix (e.g. "requires_grad=True") may be NULL or "".
void tensor_print(FILE *f, const float *x, int64_t rows, int64_t cols, const char *suffix);

#endif
