"""A small offline problem set (written for rewardkit), used by `math` when no data source is configured.

It exercises every answer shape the grader supports, so `rewardkit check math` works without a network.
"""

from __future__ import annotations

BUILTIN_PROBLEMS: tuple[dict[str, str], ...] = (
    {"question": "What is $17 + 25$?", "answer": "42"},
    {"question": "A box holds 12 eggs. How many eggs are in 7 boxes?", "answer": "84"},
    {"question": "Simplify $\\frac{6}{8}$.", "answer": "\\frac{3}{4}"},
    {"question": "What is $0.25 + 0.5$?", "answer": "0.75"},
    {"question": "Solve for $x$: $3x - 7 = 11$.", "answer": "6"},
    {"question": "Find all real roots of $x^2 - 5x + 6 = 0$.", "answer": "2, 3"},
    {"question": "Simplify $\\sqrt{50}$.", "answer": "5\\sqrt{2}"},
    {"question": "Expand $(x + 1)^2$.", "answer": "x^2 + 2x + 1"},
    {"question": "What is the derivative of $x^3$ with respect to $x$?", "answer": "3x^2"},
    {"question": "Evaluate $\\int_0^2 x \\, dx$.", "answer": "2"},
    {"question": "Solve the system $x + y = 5$, $x - y = 1$. Give $(x, y)$.", "answer": "(3, 2)"},
    {"question": "For which real $x$ is $x^2 < 4$? Give an interval.", "answer": "(-2, 2)"},
    {"question": "What is $20\\%$ of $150$?", "answer": "30"},
    {"question": "What is the area of a circle of radius 3?", "answer": "9\\pi"},
    {"question": "Compute $(1 + i)^2$.", "answer": "2i"},
    {
        "question": "What is the determinant-free identity matrix of size 2?",
        "answer": "\\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix}",
    },
)
