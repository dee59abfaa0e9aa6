"""Best available's ranking rule (``best_blocks``) on a theatre: centre seats first, the
stage side first, no stranded single seat. ``block_score`` is the rule's one formula."""

from __future__ import annotations

import random

from django.utils import timezone

from checkout.services.best_available import ROW_WEIGHT, Spot, best_blocks, block_score


def theatre(*rows: str) -> list[Spot]:
    """Rows from a picture, row A (rank 0, nearest the stage) first: '.' free, 'x' sold.

    Shorter rows are centred on the same line, as the venue layout places them.
    """
    spots = []
    for rank, picture in enumerate(rows):
        for i, c in enumerate(picture.strip()):
            spots.append(
                Spot(
                    pk=1000 * rank + i,
                    seat_id=1000 * rank + i,
                    status="sold" if c == "x" else "available",
                    hold_expires_at=None,
                    row_rank=rank,
                    row_label=chr(65 + rank),
                    position=i,
                )
            )
    return spots


def best(spots: list[Spot], quantity: int) -> list[str]:
    """The best block as seat names: ``A5`` is row A, position 5 (0-based)."""
    block = best_blocks(spots, quantity, timezone.now())[0]
    return [f"{chr(65 + pk // 1000)}{pk % 1000}" for pk in block]


def test_an_empty_theatre_gives_the_middle_of_the_front_row():
    house = theatre("." * 20, "." * 22, "." * 24)
    assert best(house, 2) == ["A9", "A10"]
    assert best(house, 3) in (["A8", "A9", "A10"], ["A9", "A10", "A11"])
    assert best(house, 4) == ["A8", "A9", "A10", "A11"]


def test_not_the_aisle_end():
    # The old rule took A0-A2 (the aisle end); the centre of the row is free.
    house = theatre("." * 30, "." * 30)
    assert best(house, 3) in (["A13", "A14", "A15"], ["A14", "A15", "A16"])


def test_the_stage_side_wins_over_a_slightly_more_central_row_further_back():
    # Row A's centre is sold; just beside it beats row C's exact centre.
    house = theatre(
        "........xxxx........",
        "xxxxxxxxxxxxxxxxxxxx",
        "....................",
    )
    assert best(house, 2) == ["A6", "A7"]  # 2.5 seats off centre, 0 rows back
    assert block_score(row_rank=0, first=6, quantity=2, row_first=0, row_last=19) < block_score(
        row_rank=2, first=9, quantity=2, row_first=0, row_last=19
    )


def test_the_centre_of_the_next_row_wins_over_the_aisle_of_the_front_row():
    house = theatre(
        "..xxxxxxxxxxxxxxxx..",
        "....................",
    )
    assert best(house, 2) == ["B9", "B10"]
    assert ROW_WEIGHT < 8  # one row back costs less than the 8 seats to the aisle


def test_no_stranded_single_seat_even_for_a_more_central_block():
    # Row A: seats 8-12 free between sold ones. 9-10 is the most central pair but leaves
    # seat 8 alone; 8-9 (or 11-12) leaves three together.
    house = theatre("xxxxxxxx.....xxxxxxx")
    picked = best(house, 2)
    free = {f"A{i}" for i in range(8, 13)} - set(picked)
    positions = sorted(int(n[1:]) for n in free)
    # No free seat is left alone between taken ones.
    runs, run = [], [positions[0]]
    for p in positions[1:]:
        if p == run[-1] + 1:
            run.append(p)
        else:
            runs.append(run)
            run = [p]
    runs.append(run)
    assert all(len(r) != 1 for r in runs), picked
    assert picked in (["A8", "A9"], ["A11", "A12"])


def test_stranding_beats_the_centre_and_the_row():
    # Row A can only give two seats by stranding one; row B strands nothing.
    house = theatre("xxxxxxxx...xxxxxxxxx", "....................")
    assert best(house, 2) == ["B9", "B10"]


def test_adjacent_in_one_row_before_split():
    house = theatre("x.x.x.x.x.", ".x.x.x.x.x", "xx..xxxxxx")
    assert best(house, 2) == ["C2", "C3"]
    # No row has three together: the split takes the best-scored single seats.
    assert len(best_blocks(house, 3, timezone.now())) == 1


def reference_blocks(spots: list[Spot], quantity: int) -> list[list[int]]:
    """The ranking rule written out plainly (every window of every free run, one sort): the
    specification the cached ``Layout`` walk must reproduce exactly."""
    rows: dict[tuple[int, str], list[Spot]] = {}
    for spot in spots:
        rows.setdefault((spot.row_rank, spot.row_label), []).append(spot)
    windows, free = [], []
    for (rank, _label), row in rows.items():
        row.sort(key=lambda s: s.position)
        row_first, row_last = row[0].position, row[-1].position
        runs, run, previous = [], [], None
        for spot in row:
            if spot.status == "available":
                score = block_score(
                    row_rank=rank, first=spot.position, quantity=1, row_first=row_first, row_last=row_last
                )
                free.append((score, rank, spot.position, spot.pk))
                if run and spot.position == previous + 1:
                    run.append(spot)
                else:
                    if run:
                        runs.append(run)
                    run = [spot]
            else:
                if run:
                    runs.append(run)
                run = []
            previous = spot.position
        if run:
            runs.append(run)
        for run in runs:
            spare = len(run) - quantity
            for start in range(spare + 1):
                stranded = (start == 1) + (spare - start == 1)
                first = run[start].position
                score = block_score(
                    row_rank=rank, first=first, quantity=quantity, row_first=row_first, row_last=row_last
                )
                windows.append(
                    ((stranded, score, rank, first), [s.pk for s in run[start : start + quantity]])
                )
    windows.sort(key=lambda w: w[0])
    blocks = [pks for _, pks in windows]
    if not blocks and len(free) >= quantity:
        free.sort()
        blocks.append([pk for _, _, _, pk in sorted(free[:quantity], key=lambda f: (f[1], f[2]))])
    return blocks


def test_the_cached_walk_ranks_exactly_as_the_plain_rule_on_random_houses():
    rng = random.Random(17)
    now = timezone.now()
    for _ in range(300):
        pictures = []
        for _row in range(rng.randint(1, 6)):
            fill = rng.random()
            # Aisles (" ") cut a row into blocks that no window spans.
            pictures.append(
                "".join(
                    rng.choice("x " if rng.random() < 0.1 else "x.") if rng.random() < fill else "."
                    for _ in range(rng.randint(1, 30))
                )
            )
        house = gapped_theatre(*pictures)
        for quantity in range(1, 6):
            expected = reference_blocks(house, quantity)
            assert best_blocks(house, quantity, now) == expected, (pictures, quantity)
            assert best_blocks(house, quantity, now, limit=5) == expected[:5], (pictures, quantity)


def gapped_theatre(*rows: str) -> list[Spot]:
    """Like ``theatre``, but a space is an aisle: no seat there, so positions jump over it."""
    spots = []
    for rank, picture in enumerate(rows):
        for i, c in enumerate(picture):
            if c != " ":
                spots.append(
                    Spot(
                        1000 * rank + i,
                        1000 * rank + i,
                        "sold" if c == "x" else "available",
                        None,
                        rank,
                        chr(65 + rank),
                        i,
                    )
                )
    rng = random.Random(len(spots))
    rng.shuffle(spots)  # inventory order is not seat order
    return spots
