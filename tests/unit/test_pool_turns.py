"""The pool's turns (service/database.py): asyncio.Semaphore serves waiters first come, first
served, lets no newcomer take a turn handed to a waiter, and loses no turn to a cancelled
waiter. The service relies on all three; these fail if asyncio ever changes them."""

import asyncio

import pytest


async def queue_up(turns: asyncio.Semaphore, name: str, served: list[str]) -> asyncio.Task[None]:
    """A task that takes a turn, notes it and keeps it; returns once the task waits or holds."""

    async def take() -> None:
        await turns.acquire()
        served.append(name)

    task = asyncio.create_task(take())
    await asyncio.sleep(0)  # the task runs to its wait
    return task


async def test_turns_go_to_the_waiters_in_the_order_they_asked() -> None:
    turns = asyncio.Semaphore(1)
    served: list[str] = []
    await turns.acquire()
    waiters = [await queue_up(turns, name, served) for name in ("first", "second", "third")]
    for _ in waiters:
        turns.release()
        await asyncio.sleep(0)
    await asyncio.gather(*waiters)
    assert served == ["first", "second", "third"]


async def test_a_newcomer_does_not_take_a_turn_handed_to_a_waiter() -> None:
    turns = asyncio.Semaphore(1)
    served: list[str] = []
    await turns.acquire()
    waiter = await queue_up(turns, "waiter", served)
    turns.release()  # handed to the waiter, which has not run yet
    newcomer = asyncio.create_task(queue_up(turns, "newcomer", served))
    await waiter
    assert served == ["waiter"]  # the newcomer waits for the waiter's turn
    turns.release()
    await (await newcomer)
    assert served == ["waiter", "newcomer"]


@pytest.mark.parametrize(
    "handed_first", [False, True], ids=["cancelled while waiting", "cancelled once handed a turn"]
)
async def test_a_cancelled_waiter_loses_no_turn(handed_first: bool) -> None:
    turns = asyncio.Semaphore(1)
    served: list[str] = []
    await turns.acquire()
    gone = await queue_up(turns, "gone", served)
    waiter = await queue_up(turns, "waiter", served)
    if handed_first:
        turns.release()  # handed to `gone`...
        gone.cancel()  # ...which is cancelled before it takes it up
    else:
        gone.cancel()
        await asyncio.sleep(0)
        turns.release()
    await asyncio.wait_for(waiter, 1)
    turns.release()
    await asyncio.wait_for(turns.acquire(), 1)  # the turn came back free: no one holds it
    assert served == ["waiter"]
    assert gone.cancelled()


async def test_free_turns_are_taken_without_waiting_up_to_their_count() -> None:
    turns = asyncio.Semaphore(2)
    served: list[str] = []
    await turns.acquire()
    await turns.acquire()
    third = await queue_up(turns, "third", served)
    assert served == []
    turns.release()
    await third
    assert served == ["third"]
