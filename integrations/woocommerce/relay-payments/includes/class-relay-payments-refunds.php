<?php
/**
 * Which WooCommerce refund a process_refund() call is for.
 *
 * WooCommerce passes process_refund( $order_id, $amount, $reason ) no refund id. wc_create_refund()
 * (includes/wc-order-functions.php) builds the WC_Order_Refund, fires `woocommerce_create_refund`
 * with it, saves it, and only then calls wc_refund_payment() → the gateway's process_refund(); when
 * that fails it deletes the refund. So the refund being paid already has its id by then: this class
 * keeps the object the action handed over (same request, same object, id set by save()) and
 * answers its id. As a fallback (another caller of process_refund) it takes the order's newest
 * refund of that amount from $order->get_refunds().
 *
 * @package Relay_Payments
 */

defined( 'ABSPATH' ) || exit;

/**
 * Remembers the refund under creation.
 */
class Relay_Payments_Refunds {

	/**
	 * Refunds being created in this request, by parent order id.
	 *
	 * @var array<int, WC_Order_Refund>
	 */
	private static $creating = array();

	/**
	 * Remember the refund being created (hooked on `woocommerce_create_refund`).
	 *
	 * @param WC_Order_Refund      $refund The refund, not saved yet.
	 * @param array<string, mixed> $args   wc_create_refund()'s arguments.
	 */
	public static function remember( $refund, $args = array() ) {
		unset( $args );
		if ( is_object( $refund ) && method_exists( $refund, 'get_parent_id' ) ) {
			self::$creating[ (int) $refund->get_parent_id() ] = $refund;
		}
	}

	/**
	 * Forget what was remembered (tests, and a long-running process refunding many orders).
	 */
	public static function reset() {
		self::$creating = array();
	}

	/**
	 * Return the id of the refund of $amount being created for the order, or 0 if none is known.
	 *
	 * @param WC_Order $order  The refunded order.
	 * @param string   $amount The amount, a decimal string.
	 * @return int
	 */
	public static function refund_id( $order, $amount ) {
		$order_id = (int) $order->get_id();
		if ( isset( self::$creating[ $order_id ] ) ) {
			$refund = self::$creating[ $order_id ];
			if ( $refund->get_id() && self::same_amount( $refund->get_amount(), $amount ) ) {
				return (int) $refund->get_id();
			}
		}
		foreach ( $order->get_refunds() as $refund ) {
			if ( self::same_amount( $refund->get_amount(), $amount ) ) {
				return (int) $refund->get_id();
			}
		}
		return 0;
	}

	/**
	 * Whether two decimal amounts are equal at the shop's price decimals.
	 *
	 * @param mixed $left  An amount.
	 * @param mixed $right An amount.
	 * @return bool
	 */
	private static function same_amount( $left, $right ) {
		$decimals = wc_get_price_decimals();
		return wc_format_decimal( $left, $decimals ) === wc_format_decimal( $right, $decimals );
	}
}
