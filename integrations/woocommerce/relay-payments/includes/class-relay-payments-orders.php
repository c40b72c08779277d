<?php
/**
 * The order side: which invoices an order has, and applying a re-read invoice to its order.
 *
 * Only WooCommerce's order CRUD is used (get_meta / update_meta_data / save, update_status,
 * payment_complete, add_order_note), so orders in HPOS tables and in posts behave alike. Meta:
 * `_relay_invoice_id` and `_relay_payment_url` (the order's newest invoice, the same keys the relay
 * writes on the no-plugin path), `_relay_invoice_ids` (every invoice the relay opened for the
 * order, oldest first), `_relay_invoice_states` (id => last seen status, for the scheduled pass)
 * and `_relay_applied` (the "invoice:status:exception" states already applied, so a repeated or
 * reordered callback adds no second note).
 *
 * @package Relay_Payments
 */

defined( 'ABSPATH' ) || exit;

/**
 * Order meta and the application of invoice states.
 */
class Relay_Payments_Orders {

	const META_INVOICE_ID  = '_relay_invoice_id';
	const META_PAYMENT_URL = '_relay_payment_url';
	const META_INVOICE_IDS = '_relay_invoice_ids';
	const META_STATES      = '_relay_invoice_states';
	const META_APPLIED     = '_relay_applied';

	/**
	 * Record an invoice the relay answered for the order (new or the open one again) and save.
	 *
	 * @param WC_Order             $order   The order.
	 * @param array<string, mixed> $invoice The invoice JSON (id, payment_url, status).
	 * @return bool Whether the invoice was not known for this order before.
	 */
	public static function remember_invoice( $order, $invoice ) {
		$ids   = self::invoice_ids( $order );
		$id    = (string) $invoice['id'];
		$fresh = ! in_array( $id, $ids, true );
		if ( $fresh ) {
			$ids[] = $id;
		}
		$order->update_meta_data( self::META_INVOICE_IDS, $ids );
		$order->update_meta_data( self::META_INVOICE_ID, $id );
		$order->update_meta_data( self::META_PAYMENT_URL, (string) $invoice['payment_url'] );
		$states        = self::states( $order );
		$states[ $id ] = isset( $invoice['status'] ) ? (string) $invoice['status'] : 'new';
		$order->update_meta_data( self::META_STATES, $states );
		$order->save();
		return $fresh;
	}

	/**
	 * Return every invoice id the order has, oldest first (the newest is `_relay_invoice_id`).
	 *
	 * @param WC_Order $order The order.
	 * @return string[]
	 */
	public static function invoice_ids( $order ) {
		$ids = $order->get_meta( self::META_INVOICE_IDS, true );
		$ids = is_array( $ids ) ? array_values( array_filter( $ids, 'is_string' ) ) : array();
		$one = $order->get_meta( self::META_INVOICE_ID, true );
		if ( is_string( $one ) && '' !== $one && ! in_array( $one, $ids, true ) ) {
			$ids[] = $one;
		}
		return $ids;
	}

	/**
	 * Return the last seen status of each of the order's invoices.
	 *
	 * @param WC_Order $order The order.
	 * @return array<string, string>
	 */
	public static function states( $order ) {
		$states = $order->get_meta( self::META_STATES, true );
		return is_array( $states ) ? $states : array();
	}

	/**
	 * Whether a re-read invoice belongs to the order: the relay says it is this order's, and the
	 * order itself recorded it (so an order id reused after a shop reset, or an invoice opened for
	 * the order id by anyone else, changes nothing).
	 *
	 * @param WC_Order             $order   The order found by the invoice's order_id.
	 * @param array<string, mixed> $invoice The invoice JSON re-read from the relay.
	 * @return bool
	 */
	public static function owns( $order, $invoice ) {
		if ( ! isset( $invoice['id'], $invoice['order_id'] ) || (string) $invoice['order_id'] !== (string) $order->get_id() ) {
			return false;
		}
		if ( ! in_array( (string) $invoice['id'], self::invoice_ids( $order ), true ) ) {
			return false;
		}
		// The relay may echo the order key it was given; when it does, it must be this order's.
		if ( isset( $invoice['order_key'] ) && '' !== (string) $invoice['order_key'] && (string) $invoice['order_key'] !== $order->get_order_key() ) {
			return false;
		}
		return true;
	}

	/**
	 * Apply a re-read invoice of the order (Relay_Payments_Status_Map), once per invoice state.
	 *
	 * @param WC_Order             $order   The order; owns() must hold.
	 * @param array<string, mixed> $invoice The invoice JSON re-read from the relay.
	 * @return string `applied` (the order changed or got a note) or `unchanged`.
	 */
	public static function apply( $order, $invoice ) {
		$id        = (string) $invoice['id'];
		$status    = isset( $invoice['status'] ) ? (string) $invoice['status'] : '';
		$exception = isset( $invoice['exception'] ) ? (string) $invoice['exception'] : '';
		$key       = $id . ':' . $status . ':' . $exception;

		$states = self::states( $order );
		if ( ! isset( $states[ $id ] ) || $states[ $id ] !== $status ) {
			$states[ $id ] = $status;
			$order->update_meta_data( self::META_STATES, $states );
		}

		$applied = $order->get_meta( self::META_APPLIED, true );
		$applied = is_array( $applied ) ? $applied : array();
		$current = (string) $order->get_meta( self::META_INVOICE_ID, true ) === $id;
		$choice  = Relay_Payments_Status_Map::decide( $invoice, $order->get_status(), $current );
		if ( 'none' === $choice['action'] || in_array( $key, $applied, true ) ) {
			$order->save();
			return 'unchanged';
		}

		$applied[] = $key;
		$order->update_meta_data( self::META_APPLIED, $applied );
		switch ( $choice['action'] ) {
			case 'complete':
				$order->add_order_note( $choice['note'] );
				$order->payment_complete( $choice['transaction_id'] );
				break;
			case 'on-hold':
			case 'failed':
				$order->update_status( $choice['action'], $choice['note'] );
				break;
			default:
				$order->add_order_note( $choice['note'] );
		}
		$order->save();
		return 'applied';
	}
}
