// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

// Collector factory: deposit addresses that can only ever pay one payout address.
//
// THIS CONTRACT HANDLES CUSTOMERS' MONEY. Every assumption it relies on is written down here;
// change nothing without re-reading all of them.
//
// What it does
//   For a payout address P and a 32-byte salt S, the collector of (P, S) is the EIP-1014 CREATE2
//   address of this factory with
//       create2 salt = keccak256(abi.encode(P, S))
//       init code    = type(Collector).creationCode   (one fixed byte string, no arguments)
//   so anyone can compute it off chain (relay/collectors.py does) and `collectorAddress` returns
//   it on chain. Nothing is deployed there: customers pay it by plain ETH or token transfers, from
//   any wallet or exchange. `collect(P, salts, tokens)` then creates each collector of (P, S) for S
//   in `salts`; the collector's constructor moves its whole balance of every token in `tokens`,
//   then all its ETH, to P, and SELFDESTRUCTs in the transaction that created it. Under EIP-6780
//   that removes the account at the end of the transaction, so the address again holds no code
//   and a later payment to it can be collected by a later `collect`.
//
// Why nobody can send the money anywhere but P
//   - The collector's address commits to P through the create2 salt. Only this factory can create
//     code at its CREATE2 addresses, and it does so only in `collect`, with the salt hashed from
//     the `payout` argument; a caller passing another payout Q derives other addresses (the
//     collectors of Q), which hold nothing of P's.
//   - The init code is fixed and takes no arguments; the constructor reads P and the token list
//     back from the factory (`collection()`, transient storage written by `collect` just before).
//     So the P a collector pays is the P its own address was derived from.
//   - The constructor transfers tokens to P, then SELFDESTRUCTs to P. It has no other code path:
//     no owner, no admin, no upgrade, no runtime code at all (the constructor never returns).
//   - `collect` is not reentrant (a transient lock; see below): a token called by a collector
//     cannot start a nested `collect` that would overwrite P for the collectors still to come.
//
// Who can call
//   Anyone. A caller pays the gas and chooses which collectors and tokens; the money still goes
//   only to P. Calling it early, late, twice or with the wrong token list moves nothing anywhere
//   else (what was not listed simply stays, collectable later).
//
// Chains and hardforks this needs (all six presets of the relay have them)
//   - EIP-1153 transient storage (TSTORE/TLOAD): the parameters and the lock.
//   - EIP-6780 SELFDESTRUCT: in the creating transaction it still deletes the account, which is
//     what makes an address collectable again. (Before EIP-6780 SELFDESTRUCT also deleted it.)
//   - EIP-3855 PUSH0 and EIP-5656 MCOPY: emitted by solc for evmVersion "cancun".
//   - EIP-1014 CREATE2, EIP-3860 init code metering (costs only).
//   Ethereum: Cancun (Dencun, March 2024). Base and OP Mainnet: Ecotone (March 2024). Arbitrum
//   One: ArbOS 20 "Atlas" (March 2024). Polygon PoS: Napoli (PIP-33, March 2024). BNB Smart Chain:
//   Haber (BEP-343 transient storage, BEP-344 EIP-6780; 2024). On a chain without transient
//   storage TSTORE/TLOAD are invalid opcodes: every `collect` reverts there, it can never misroute
//   money (and without PUSH0 the factory's deployment itself fails).
//   A future hardfork that stops SELFDESTRUCT from deleting an account created in the same
//   transaction (solc warns that the opcode is deprecated) would leave each collected address
//   with nonce 1 and no code: a second `collect` of it would then revert (CollectorFailed), and
//   money paid there after its first collection would be stuck. Re-check on every hardfork.
//   The factory is deployed at one address on every chain through the deterministic deployment
//   proxy 0x4e59b44847b379578588920ca78fbf26c0b4956c (Arachnid) with a fixed salt; its address
//   depends only on this compiled code (metadata hash off, so comments do not change it).
//
// Token behaviours (each token of `tokens`, for each collector)
//   - balanceOf is read with STATICCALL, copying at most 32 bytes of its answer: a token that
//     reverts, answers less than 32 bytes, or has no code is skipped; a huge answer cannot make
//     the copy expensive.
//   - transfer(P, balance) is a low-level CALL whose answer is ignored: a token that returns no
//     bool (USDT on Ethereum), one that returns false, and one that reverts (paused, blocklisted
//     P or collector, ...) are all tolerated. A token that did not move is left where it is, the
//     other tokens and the ETH still move, and it stays collectable once the token allows it.
//     Nothing is ever "assumed moved": the relay reads balances to see what was collected.
//   - A zero balance is skipped (no transfer call).
//   - Fee-on-transfer tokens: the whole balance is sent; P receives it minus the token's fee,
//     the collector keeps nothing.
//   - Rebasing tokens: the balance at the moment of the collection moves; later rebases credit
//     the (empty) address again, collectable by a later `collect`.
//   - Tokens with transfer hooks (ERC-777 style) may run code during the transfer: that code runs
//     while `collect` holds its lock, cannot call `collect`, and cannot make the collector do
//     anything (a contract under construction has no code to call).
//   - A token call gets all but 1/64 of the gas (EIP-150). If a call fails and less than 1/63 of
//     the gas it started with is left, it probably ran out of gas: the collector then reverts,
//     which reverts the whole `collect` (below), instead of skipping a token only because the
//     gas limit was low. A token that fails by burning nearly all the gas it is given (INVALID,
//     an assert of solc < 0.8) therefore makes `collect` revert: leave it out of `tokens`.
//
// ETH
//   SELFDESTRUCT sends the collector's whole ETH balance to P without calling P's code, so a P
//   that is a contract (a Safe) receives it without running a receive function and cannot reject
//   it or re-enter. ETH sent to the collector during its constructor (e.g. by a token's hook) is
//   part of that balance and goes to P too. ETH sent to a collector's address later in the SAME
//   transaction, after its SELFDESTRUCT, is deleted with the account at the end of the transaction
//   (EIP-6780): never batch a payment to a collector after its collection in one transaction.
//
// Gas and failure
//   If CREATE2 returns address(0) (the constructor reverted or ran out of gas, or the address is
//   taken: a salt repeated within one transaction), the whole `collect` reverts with
//   CollectorFailed: a gas limit set too low never "succeeds" while moving nothing. Salts must be
//   distinct within one transaction (a collected address only disappears at its end).
//   The cost per collector is about 32,000 (CREATE2) + 5,000 (SELFDESTRUCT) + the token calls;
//   bench/collect.py measures it.
//
// What P must be
//   An address its owner controls: an EOA, a Safe, any contract that can move tokens and ETH it
//   holds. Not address(0) and not this factory (both rejected: the money would be lost). Not a
//   collector address either (nothing can detect that cheaply; it would strand the money until
//   that collector is collected to its own payout).

/// @notice The factory's side of a collection, read by a collector's constructor.
interface ICollectionSource {
    /// @notice The payout address and token list of the `collect` call now running.
    function collection() external view returns (address payout, address[] memory tokens);
}

/// @title Collector
/// @notice The fixed init code created at each collector address by `CollectorFactory.collect`.
/// @dev Only a constructor: it never returns, so no runtime code is ever stored. `msg.sender` is
///      the factory, because only the factory can create code at the factory's CREATE2
///      addresses; the same init code created by anyone else lands at other addresses.
contract Collector {
    constructor() payable {
        (address payout, address[] memory tokens) = ICollectionSource(msg.sender).collection();
        uint256 count = tokens.length;
        for (uint256 i = 0; i < count; ++i) {
            _sweep(tokens[i], payout);
        }
        assembly ("memory-safe") {
            selfdestruct(payout)
        }
    }

    /// @dev Move this contract's whole balance of `token` to `payout`; skip a token that fails,
    ///      revert on a call that ran out of gas (see "Token behaviours" above).
    function _sweep(address token, address payout) private {
        assembly ("memory-safe") {
            function revertIfOutOfGas(before) {
                // EIP-150: a callee that ran out of gas leaves the caller about 1/64 of it.
                if lt(gas(), div(before, 63)) {
                    revert(0, 0)
                }
            }
            function sweep(tok, to) {
                let ptr := mload(0x40) // scratch beyond the free memory pointer; nothing kept
                mstore(ptr, shl(224, 0x70a08231)) // balanceOf(address)
                mstore(add(ptr, 4), address())
                let before := gas()
                // Copy at most 32 bytes of the answer into scratch space 0x00.
                if iszero(staticcall(gas(), tok, ptr, 36, 0x00, 0x20)) {
                    revertIfOutOfGas(before)
                    leave
                }
                if lt(returndatasize(), 0x20) {
                    leave
                }
                let amount := mload(0x00)
                if iszero(amount) {
                    leave
                }
                mstore(ptr, shl(224, 0xa9059cbb)) // transfer(address,uint256)
                mstore(add(ptr, 4), to)
                mstore(add(ptr, 36), amount)
                before := gas()
                // The answer (bool, nothing, or a revert reason) is not copied and not trusted.
                if iszero(call(gas(), tok, 0, ptr, 68, 0, 0)) {
                    revertIfOutOfGas(before)
                }
            }
            sweep(token, payout)
        }
    }
}

/// @title CollectorFactory
/// @notice Deterministic deposit addresses ("collectors") that anyone can collect, only ever to
///         their payout address. See the header of this file for every assumption.
contract CollectorFactory is ICollectionSource {
    /// @notice One collector was created and collected, in this transaction, for `payout`.
    event Collected(address indexed payout, address indexed collector);

    /// @notice `collect` was given the zero address or this factory as payout.
    error InvalidPayout(address payout);
    /// @notice `collect` was called while a `collect` is running (from a token's code).
    error Reentered();
    /// @notice `collection()` was called outside `collect`.
    error NotCollecting();
    /// @notice CREATE2 of the collector for `salt` failed: too little gas, or a salt repeated
    ///         within one transaction. Nothing of this `collect` happened.
    error CollectorFailed(bytes32 salt);

    // Transient (EIP-1153): set by `collect` for the collectors it creates, cleared before it
    // returns, so two `collect` calls in one transaction (a Safe batch) never see each other's.
    // A non-zero payout is also the reentrancy lock.
    address private transient _payout;
    uint256 private transient _tokenCount;
    /// @dev Token i of the running `collect` is at transient slot _TOKENS_SLOT + i.
    uint256 private constant _TOKENS_SLOT = uint256(keccak256("relay.CollectorFactory.tokens"));

    /// @notice The collector address of (`payout`, `salt`): EIP-1014
    ///         keccak256(0xff ++ this ++ keccak256(abi.encode(payout, salt)) ++
    ///         keccak256(collector init code))[12:].
    function collectorAddress(address payout, bytes32 salt) external view returns (address) {
        bytes32 digest = keccak256(
            abi.encodePacked(
                bytes1(0xff),
                address(this),
                _create2Salt(payout, salt),
                keccak256(type(Collector).creationCode)
            )
        );
        return address(uint160(uint256(digest)));
    }

    /// @notice keccak256 of the collectors' init code (the same for every collector).
    function collectorInitCodeHash() external pure returns (bytes32) {
        return keccak256(type(Collector).creationCode);
    }

    /// @notice For each salt, move every listed token's balance and all ETH of the collector of
    ///         (`payout`, salt) to `payout`, in this transaction. Callable by anyone.
    /// @dev Reverts as a whole if any collector cannot be created (CollectorFailed), so it never
    ///      succeeds having skipped one. A token that fails is skipped, not fatal. Salts must be
    ///      distinct within one transaction.
    function collect(address payout, bytes32[] calldata salts, address[] calldata tokens)
        external
    {
        if (payout == address(0) || payout == address(this)) revert InvalidPayout(payout);
        if (_payout != address(0)) revert Reentered();
        _payout = payout;
        uint256 count = tokens.length;
        _tokenCount = count;
        for (uint256 i = 0; i < count; ++i) {
            address token = tokens[i];
            uint256 slot = _TOKENS_SLOT + i;
            assembly ("memory-safe") {
                tstore(slot, token)
            }
        }

        bytes memory initCode = type(Collector).creationCode;
        uint256 n = salts.length;
        for (uint256 i = 0; i < n; ++i) {
            bytes32 salt = salts[i];
            bytes32 create2Salt = _create2Salt(payout, salt);
            address collector;
            assembly ("memory-safe") {
                collector := create2(0, add(initCode, 0x20), mload(initCode), create2Salt)
            }
            if (collector == address(0)) revert CollectorFailed(salt);
            emit Collected(payout, collector);
        }

        // Clear what `collection()` returns, so that a later `collect` in the same transaction
        // starts unlocked and no stale token list is ever read. The token slots beyond the count
        // are never read; they are zeroed too, to leave nothing behind.
        for (uint256 i = 0; i < count; ++i) {
            uint256 slot = _TOKENS_SLOT + i;
            assembly ("memory-safe") {
                tstore(slot, 0)
            }
        }
        _tokenCount = 0;
        _payout = address(0);
    }

    /// @inheritdoc ICollectionSource
    /// @dev Reverts with NotCollecting outside `collect`, so a collector can never run with an
    ///      empty payout.
    function collection() external view returns (address payout, address[] memory tokens) {
        payout = _payout;
        if (payout == address(0)) revert NotCollecting();
        uint256 count = _tokenCount;
        tokens = new address[](count);
        for (uint256 i = 0; i < count; ++i) {
            uint256 slot = _TOKENS_SLOT + i;
            address token;
            assembly ("memory-safe") {
                token := tload(slot)
            }
            tokens[i] = token;
        }
    }

    /// @dev The create2 salt of a collector: binds the payout address into its address.
    function _create2Salt(address payout, bytes32 salt) private pure returns (bytes32) {
        return keccak256(abi.encode(payout, salt));
    }
}
