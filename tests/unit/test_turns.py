"""Turns: first come, first served, and no turn lost to a cancelled waiter."""

import asyncio

import pytest

from service.turns import Turns


async def queue_up(turns: Turns, name: str, served: list[str]) -> asyncio.Task[None]:
    """A task that takes a turn, notes it and keeps it; returns once the task waits or holds."""

    async def take() -> None:
        await turns.take()
        served.append(name)

    task = asyncio.create_task(take())
    await asyncio.sleep(0)  # the task runs to its wait
    return task


async def test_turns_go_to_the_waiters_in_the_order_they_asked() -> None:
    turns = Turns(1, asyncio.get_running_loop())
    served: list[str] = []
    await turns.take()
    waiters = [await queue_up(turns, name, served) for name in ("first", "second", "third")]
    for _ in waiters:
        turns.give_back()
        await asyncio.sleep(0)
    await asyncio.gather(*waiters)
    assert served == ["first", "second", "third"]


async def test_a_newcomer_does_not_take_a_turn_handed_to_a_waiter() -> None:
    turns = Turns(1, asyncio.get_running_loop())
    served: list[str] = []
    await turns.take()
    waiter = await queue_up(turns, "waiter", served)
    turns.give_back()  # handed to the waiter, which has not run yet
    newcomer = asyncio.create_task(queue_up(turns, "newcomer", served))
    await waiter
    assert served == ["waiter"]  # the newcomer waits for the waiter's turn
    turns.give_back()
    await (await newcomer)
    assert served == ["waiter", "newcomer"]


@pytest.mark.parametrize(
    "handed_first", [False, True], ids=["cancelled while waiting", "cancelled once handed a turn"]
)
async def test_a_cancelled_waiter_loses_no_turn(handed_first: bool) -> None:
    turns = Turns(1, asyncio.get_running_loop())
    served: list[str] = []
    await turns.take()
    gone = await queue_up(turns, "gone", served)
    waiter = await queue_up(turns, "waiter", served)
    if handed_first:
        turns.give_back()  # handed to `gone`...
        gone.cancel()  # ...which is cancelled before it takes it up
    else:
        gone.cancel()
        await asyncio.sleep(0)
        turns.give_back()
    await asyncio.wait_for(waiter, 1)
    turns.give_back()
    await asyncio.wait_for(turns.take(), 1)  # the turn came back free: no one holds it
    assert served == ["waiter"]
    assert gone.cancelled()


async def test_free_turns_are_taken_without_waiting_up_to_their_count() -> None:
    turns = Turns(2, asyncio.get_running_loop())
    served: list[str] = []
    await turns.take()
    await turns.take()
    third = await queue_up(turns, "third", served)
    assert served == []
    turns.give_back()
    await third
    assert served == ["third"]
