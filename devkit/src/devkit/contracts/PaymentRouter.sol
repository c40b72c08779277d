// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title PaymentRouter
/// @notice Produces the payment shapes that are awkward for a payment watcher to see, so that
///         tests can exercise them on a dev chain: several token transfers in one transaction,
///         ETH that arrives by an internal call (as exchanges and multisigs send it) rather than
///         by a top-level transaction, and transactions that move value and then fail.
/// @dev Token calls tolerate tokens that return nothing (USDT style). Test tooling only.
contract PaymentRouter {
    error LengthMismatch(uint256 recipients, uint256 amounts);
    error TokenCallFailed(address token);
    error EthTransferFailed(address to, uint256 value);
    /// @notice Raised on purpose by the `...ThenRevert` helpers after they moved value.
    error IntentionalRevert();

    /// @notice Pay `amounts[i]` base units of `token` from the caller to `to[i]`, in one tx.
    /// @dev Pulls with transferFrom: the caller must first approve this router for the sum.
    function batchTransfer(address token, address[] calldata to, uint256[] calldata amounts)
        external
    {
        if (to.length != amounts.length) revert LengthMismatch(to.length, amounts.length);
        for (uint256 i = 0; i < to.length; ++i) {
            _transferFrom(token, msg.sender, to[i], amounts[i]);
        }
    }

    /// @notice Forward all the ETH sent with this call to `to` by an internal call.
    function forwardEth(address payable to) external payable {
        _sendEth(to, msg.value);
    }

    /// @notice Forward the ETH to `to`, then revert: the transaction fails and nothing moves.
    function forwardEthThenRevert(address payable to) external payable {
        _sendEth(to, msg.value);
        revert IntentionalRevert();
    }

    /// @notice Pull `amount` of `token` from the caller to `to`, then revert: a failed token tx.
    /// @dev The caller must approve this router first so that the transfer itself succeeds and
    ///      only the final revert undoes it.
    function transferThenRevert(address token, address to, uint256 amount) external {
        _transferFrom(token, msg.sender, to, amount);
        revert IntentionalRevert();
    }

    function _sendEth(address payable to, uint256 value) private {
        (bool ok,) = to.call{value: value}("");
        if (!ok) revert EthTransferFailed(to, value);
    }

    function _transferFrom(address token, address from, address to, uint256 amount) private {
        (bool ok, bytes memory data) =
            token.call(abi.encodeWithSelector(0x23b872dd, from, to, amount)); // transferFrom
        // Success is a true return value, or no return data from a contract (USDT style).
        bool success = ok && (data.length == 0 ? token.code.length != 0 : abi.decode(data, (bool)));
        if (!success) revert TokenCallFailed(token);
    }
}
