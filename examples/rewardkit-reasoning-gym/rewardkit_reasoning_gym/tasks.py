"""Which reasoning-gym tasks there are, and how strictly each is scored.

The list is static so that registering the environments never imports reasoning_gym (seconds: it loads
matplotlib and every generator); tests/test_tasks.py checks it against the installed release.

Strict scoring (the default) gives 1.0 only where the task's own scorer gives full marks and 0.0 otherwise,
which removes the partial credit reasoning-gym's default scorer pays for any answer that merely contains the
gold answer (`len(gold) / len(answer)`): a policy learns to list candidates. Some tasks' own scorers also give
full marks to answers with extra content; those in EXACT are scored by comparing the answer with the gold
answer instead. The tasks in GAMEABLE have neither a sound scorer nor one canonical answer; they are refused
unless a config sets `allow_gameable: true`. The tasks in NO_REFERENCE have no gold answer in their entries
(any valid solution counts, which their scorer checks), so the contract kit cannot check their top score.
"""

from __future__ import annotations

TASKS: tuple[str, ...] = (
    "ab",
    "acre",
    "advanced_geometry",
    "aiw",
    "arc_1d",
    "arc_agi",
    "base_conversion",
    "basic_arithmetic",
    "bf",
    "binary_alternation",
    "binary_matrix",
    "bitwise_arithmetic",
    "boxnet",
    "caesar_cipher",
    "calendar_arithmetic",
    "chain_sum",
    "circuit_logic",
    "codeio",
    "coin_flip",
    "color_cube_rotation",
    "complex_arithmetic",
    "count_bits",
    "count_primes",
    "countdown",
    "course_schedule",
    "cryptarithm",
    "decimal_arithmetic",
    "decimal_chain_sum",
    "dice",
    "emoji_mystery",
    "family_relationships",
    "figlet_font",
    "fraction_simplification",
    "futoshiki",
    "game_of_life",
    "game_of_life_halting",
    "gcd",
    "graph_color",
    "group_anagrams",
    "gsm_symbolic",
    "intermediate_integration",
    "isomorphic_strings",
    "jugs",
    "kakurasu",
    "knight_swap",
    "knights_knaves",
    "largest_island",
    "lcm",
    "leg_counting",
    "letter_counting",
    "letter_jumble",
    "list_functions",
    "mahjong_puzzle",
    "manipulate_matrix",
    "maze",
    "mini_sudoku",
    "modulo_grid",
    "n_queens",
    "needle_haystack",
    "number_filtering",
    "number_format",
    "number_sequence",
    "number_sorting",
    "palindrome_generation",
    "palindrome_partitioning",
    "path_star",
    "polynomial_equations",
    "polynomial_multiplication",
    "pool_matrix",
    "power_function",
    "prime_factorization",
    "products",
    "propositional_logic",
    "puzzle24",
    "quantum_lock",
    "ransom_note",
    "rearc",
    "rectangle_count",
    "rotate_matrix",
    "rotten_oranges",
    "rubiks_cube",
    "rush_hour",
    "self_reference",
    "sentence_reordering",
    "shortest_path",
    "simple_equations",
    "simple_geometry",
    "simple_integration",
    "sokoban",
    "spell_backward",
    "spiral_matrix",
    "string_insertion",
    "string_manipulation",
    "string_splitting",
    "string_synthesis",
    "sudoku",
    "survo",
    "syllogism",
    "time_intervals",
    "tower_of_hanoi",
    "tsumego",
    "word_ladder",
    "word_sequence_reversal",
    "word_sorting",
    "zebra_puzzles",
)

# Tasks whose own scorer gives full marks to a hedged answer (the gold answer beside another sample's)
# although the task has one canonical answer: strict scoring compares the answer with the gold answer
# (whitespace aside) instead. Answers in another form than the gold's (other term order) then score 0.
EXACT: frozenset[str] = frozenset(
    {
        "fraction_simplification",
        "game_of_life_halting",
        "gsm_symbolic",
        "letter_jumble",
        "polynomial_equations",
        "polynomial_multiplication",
        "spell_backward",
        "time_intervals",
    }
)

# task -> why neither its scorer nor an exact comparison is sound. Refused unless `allow_gameable: true`.
GAMEABLE: dict[str, str] = {
    "intermediate_integration": "any antiderivative counts, and its scorer accepts 'A or B' for answer A",
    "simple_integration": "any antiderivative counts, and its scorer accepts 'A or B' for answer A",
    "sokoban": "any solving sequence counts, and its scorer accepts moves appended after the solution",
}

# task -> why its entries carry no gold answer; their scorers check a solution, so they are usable, but the
# contract kit cannot check that a correct answer earns the top score.
NO_REFERENCE: dict[str, str] = {
    "boxnet": "any plan that reaches the goal counts",
    "graph_color": "any valid colouring counts",
    "propositional_logic": "any valid derivation counts",
    "rubiks_cube": "any solving sequence counts",
    "rush_hour": "any solving sequence counts",
}

# Tasks whose scorer compares the parsed answer with tuples in the entry's metadata, which JSON (and so
# every sample that crossed a process or the network) turns into lists: they are turned back to score.
TUPLE_METADATA: frozenset[str] = frozenset({"arc_agi", "rearc"})
