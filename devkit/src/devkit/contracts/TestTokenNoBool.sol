// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title TestTokenNoBool
/// @notice An ERC-20 whose `transfer` and `transferFrom` return nothing, as Tether's USDT on
///         Ethereum does (0xdAC17F958D2ee523a2206206994597C13D831ec7): callers that insist on a
///         bool answer fail on it. For local dev chains and tests only.
/// @dev `mint` is open to anyone on purpose: this is a test token. Amounts are base units.
contract TestTokenNoBool {
    string public name;
    string public symbol;
    uint8 public immutable decimals;
    uint256 public totalSupply;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory name_, string memory symbol_, uint8 decimals_) {
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
    }

    /// @notice Move `value` base units from the caller to `to`; returns nothing (USDT's shape).
    function transfer(address to, uint256 value) external {
        _transfer(msg.sender, to, value);
    }

    /// @notice Let `spender` move up to `value` base units of the caller's balance.
    function approve(address spender, uint256 value) external {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
    }

    /// @notice Move `value` base units from `from` to `to` using the caller's allowance.
    function transferFrom(address from, address to, uint256 value) external {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= value, "TestTokenNoBool: insufficient allowance");
        allowance[from][msg.sender] = allowed - value;
        _transfer(from, to, value);
    }

    /// @notice Create `value` new base units for `to`. Open to anyone: test token only.
    function mint(address to, uint256 value) external {
        totalSupply += value;
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    function _transfer(address from, address to, uint256 value) private {
        require(to != address(0), "TestTokenNoBool: transfer to the zero address");
        uint256 balance = balanceOf[from];
        require(balance >= value, "TestTokenNoBool: transfer amount exceeds balance");
        unchecked {
            balanceOf[from] = balance - value;
            balanceOf[to] += value; // cannot overflow: bounded by totalSupply
        }
        emit Transfer(from, to, value);
    }
}
